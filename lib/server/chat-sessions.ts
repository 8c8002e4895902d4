/**
 * Who a Chat call acts for: Challenge and Connect prove a user's key and open a
 * session; every other call's session token is checked against the room's key.
 */
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { createEventId } from '../core/event';
import { AUTH_HEADER, bearerToken, connectMessage, fingerprint, keyText, mintNonce, mintToken, nonceError, otherKeyMessage, verifySignature, type Session } from '../core/identity';
import type { ChatHandlers } from '../gen/ftchat/Chat';
import type { ConnectRequest__Output } from '../gen/ftchat/ConnectRequest';
import type { ChatContext } from './chat-context';
import { Refusal, unary } from './refusal';

/** An existing user (every name here passed chatRequestError). One created through another worker
 * a moment ago may not have reached us by doorbell yet, so the room file is read before the name is refused. */
export async function knownUser(ctx: ChatContext, u: string): Promise<string> {
  if (!ctx.index.rooms.has(u)) await ctx.journal.refresh([u]);
  if (!ctx.index.rooms.has(u)) throw new Refusal(grpc.status.NOT_FOUND, `unknown user '${u}'`);
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

/** authorize, with the whole session: a write records its key, a stream ends when it expires. */
export async function authorizeSession(ctx: ChatContext, call: { request: { user: string }; metadata: grpc.Metadata }): Promise<Session> {
  const token = bearerToken(call.metadata.get(AUTH_HEADER)[0]);
  const session = token === null ? 'no session token' : ctx.tokens.verify(token, Date.now());
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
  const certifying = new Set<string>();
  return {
    Challenge: unary(opts.log, async (req) => ({ nonce: mintNonce(opts.keys, req.user, randomBytes(16), Date.now()) })),
    Connect: unary(opts.log, async (req, call) => {
      const { me, ...session } = await connect(ctx, req, call, certifying);
      return { machine: opts.machine, worker: journal.origin, following: index.graph.following(me), ...session };
    }),
  };
}

/** How long settling a name may take: what the caller's deadline leaves, within bounds; each acceptor call gets half. */
const SETTLE_MIN_MS = 1_000;
const SETTLE_MAX_MS = 8_000;

function settleBudget(call: grpc.ServerUnaryCall<unknown, unknown>): number {
  const deadline = call.getDeadline();
  const left = deadline instanceof Date ? deadline.getTime() - Date.now() : typeof deadline === 'number' && Number.isFinite(deadline) ? deadline - Date.now() : SETTLE_MAX_MS;
  return Math.max(SETTLE_MIN_MS, Math.min(SETTLE_MAX_MS, left - 300));
}

/** What a user is told when no majority could settle a new name (one line). */
export function unsettledMessage(user: string, s: { answered: number; of: number; needed: number }): string {
  return `cannot settle the new name ${user} now: ${s.answered} of ${s.of} machines answered, and a majority (${s.needed}) must; users who exist already can still connect here`;
}

/** What a user is told when the name differs only in case from an existing one (one line). */
export function caseTakenMessage(user: string, existing: string): string {
  return `${user} is taken: names are unique without regard to case, and ${existing} exists`;
}

/**
 * Checks a Connect's proof of its key and opens a session. A name this machine does
 * not hold is settled by a majority first (docs/names.md); its create, carrying the
 * proof, is stored before the token is given.
 */
async function connect(ctx: ChatContext, req: ConnectRequest__Output, call: grpc.ServerUnaryCall<ConnectRequest__Output, unknown>, certifying: Set<string>) {
  const { opts, journal, index, roomKeys } = ctx;
  const me = req.user;
  const bad = nonceError(opts.keys, me, req.nonce, Date.now());
  if (bad) throw new Refusal(grpc.status.UNAUTHENTICATED, bad);
  if (!verifySignature(req.public_key, connectMessage(me, req.nonce), req.signature)) {
    throw new Refusal(grpc.status.UNAUTHENTICATED, 'signature does not verify with the given key');
  }
  const fp = fingerprint(req.public_key);
  const key = keyText(req.public_key);
  if (!index.rooms.has(me)) await journal.refresh([me]);
  const created = !index.rooms.has(me);
  const owner = created ? null : roomKeys.of(me);
  if (owner && owner.fingerprint !== fp) throw new Refusal(grpc.status.PERMISSION_DENIED, otherKeyMessage(me));
  if (created) {
    const other = index.rooms.spellings(me).find((n) => n !== me);
    if (other) throw new Refusal(grpc.status.ALREADY_EXISTS, caseTakenMessage(me, other));
    await opts.quotas.newUser(call.getPeer());
  }
  // A new name, or a room from before keys claimed now: settled by a majority first.
  if (!owner) await storeSettled(ctx, me, key, fp, settleBudget(call));
  else if (!owner.certified) certifyLater(ctx, me, key, fp, certifying);
  if (roomKeys.of(me)?.fingerprint !== fp) throw new Refusal(grpc.status.PERMISSION_DENIED, otherKeyMessage(me));
  const expiresAtMs = Date.now() + opts.limits.maxSessionMs;
  return { me, created, token: mintToken(opts.keys, { user: me, key: fp, expiresAtMs }), expires_at_ms: expiresAtMs };
}

/** Settles `me` for `key` with a majority, and stores the create carrying the proof; refuses if it is not settled for it. */
async function storeSettled(ctx: ChatContext, me: string, key: string, fp: string, budgetMs: number): Promise<void> {
  const settled = await ctx.opts.names.settle({ name: me, key }, budgetMs, Math.max(500, budgetMs / 2));
  if (settled.type === 'unavailable') {
    throw new Refusal(grpc.status.UNAVAILABLE, unsettledMessage(me, settled));
  }
  if (settled.type === 'other') {
    if (settled.value.name === me) throw new Refusal(grpc.status.PERMISSION_DENIED, otherKeyMessage(me));
    throw new Refusal(grpc.status.ALREADY_EXISTS, caseTakenMessage(me, settled.value.name));
  }
  await ctx.journal.submit({ id: createEventId(me), kind: 'create', room: me, author: me, text: key, key: fp, proof: settled.proof });
}

/**
 * A room from before names were settled by a majority, connected to by its owner: its
 * name is settled for its key in the background (the session does not wait: its
 * owner keeps working where no majority is reachable), once per process.
 */
function certifyLater(ctx: ChatContext, me: string, key: string, fp: string, certifying: Set<string>): void {
  if (certifying.has(me)) return;
  certifying.add(me);
  storeSettled(ctx, me, key, fp, SETTLE_MAX_MS).then(
    () => ctx.opts.log.info('room from before names were settled: settled for its key', { room: me, key: fp }),
    (err: unknown) => {
      ctx.opts.log.warn('room from before names were settled: not settled yet', { room: me, reason: err instanceof Error ? err.message : String(err) });
      if (err instanceof Refusal && err.code === grpc.status.UNAVAILABLE) certifying.delete(me); // tried again at the next connect
    },
  );
}
