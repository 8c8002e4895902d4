/**
 * Who a Chat call acts for: Challenge and Connect prove a user's key and open a
 * session; every other call's session token is checked against the room's key.
 */
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { createEventId } from '../core/event';
import { AUTH_HEADER, bearerToken, connectMessage, fingerprint, keyText, mintNonce, mintToken, nonceError, otherKeyMessage, verifySignature, type Session, verifyToken } from '../core/identity';
import type { ChatHandlers } from '../gen/ftchat/Chat';
import type { ConnectRequest__Output } from '../gen/ftchat/ConnectRequest';
import type { ChatContext } from './chat-context';
import { Refusal, unary } from './refusal';

/** An existing user (every name here passed chatRequestError). One created through another worker
 * a moment ago may not have reached us by doorbell yet, so the room file is read before the name is refused. */
export async function knownUser(ctx: ChatContext, u: string): Promise<string> {
  if (!ctx.index.userExists(u)) await ctx.journal.refresh([u]);
  if (!ctx.index.userExists(u)) throw new Refusal(grpc.status.NOT_FOUND, `unknown user '${u}'`);
  return u;
}

/**
 * The user a call acts for: its session token's (metadata "authorization: Bearer
 * <token>"), whose key must still be the room's. A request field naming anyone
 * else is refused; an empty one means the session's user.
 */
export async function authorize(ctx: ChatContext, call: { request: { user: string }; metadata: grpc.Metadata }): Promise<string> {
  return (await authorizeSession(ctx, call)).user;
}

/** authorize, with the whole session (a stream ends when it expires). */
export async function authorizeSession(ctx: ChatContext, call: { request: { user: string }; metadata: grpc.Metadata }): Promise<Session> {
  const token = bearerToken(call.metadata.get(AUTH_HEADER)[0]);
  const session = token === null ? 'no session token' : verifyToken(ctx.opts.keys, token, Date.now(), ctx.opts.limits.maxSessionMs);
  if (typeof session === 'string') throw new Refusal(grpc.status.UNAUTHENTICATED, `${session}: connect again`);
  const named = call.request.user;
  if (named !== '' && named !== session.user) {
    throw new Refusal(grpc.status.PERMISSION_DENIED, `this session is ${session.user}'s: it cannot act for ${named}`);
  }
  const me = await knownUser(ctx, session.user);
  if (ctx.roomKeys.of(me)?.fingerprint !== session.key) throw new Refusal(grpc.status.PERMISSION_DENIED, otherKeyMessage(me));
  return session;
}

export function sessionHandlers(ctx: ChatContext): Pick<ChatHandlers, 'Challenge' | 'Connect'> {
  const { opts, journal, index } = ctx;
  return {
    Challenge: unary(opts.log, async (req) => ({ nonce: mintNonce(opts.keys, req.user, randomBytes(16), Date.now()) })),
    Connect: unary(opts.log, async (req, call) => {
      const { me, ...session } = await connect(ctx, req, call.getPeer());
      return { machine: opts.machine, worker: journal.origin, following: index.graph.following(me), ...session };
    }),
  };
}

/** Checks a Connect's proof of its key; stores its room (or its claim of a keyless one) and opens a session. */
async function connect({ opts, journal, index, roomKeys }: ChatContext, req: ConnectRequest__Output, peer: string) {
  const me = req.user;
  const bad = nonceError(opts.keys, me, req.nonce, Date.now());
  if (bad) throw new Refusal(grpc.status.UNAUTHENTICATED, bad);
  if (!verifySignature(req.public_key, connectMessage(me, req.nonce), req.signature)) {
    throw new Refusal(grpc.status.UNAUTHENTICATED, 'signature does not verify with the given key');
  }
  const fp = fingerprint(req.public_key);
  if (!index.userExists(me)) await journal.refresh([me]);
  const created = !index.userExists(me);
  if (created) await opts.quotas.newUser(peer);
  const owner = created ? null : roomKeys.of(me);
  if (owner && owner.fingerprint !== fp) throw new Refusal(grpc.status.PERMISSION_DENIED, otherKeyMessage(me));
  if (!owner) await journal.submit({ id: createEventId(me), kind: 'create', room: me, author: me, text: keyText(req.public_key) });
  // Another key may have been stored first (a race through another worker): the earliest decides.
  if (roomKeys.of(me)?.fingerprint !== fp) throw new Refusal(grpc.status.PERMISSION_DENIED, otherKeyMessage(me));
  const expiresAtMs = Date.now() + opts.limits.maxSessionMs;
  return { me, created, token: mintToken(opts.keys, { user: me, key: fp, expiresAtMs }), expires_at_ms: expiresAtMs };
}
