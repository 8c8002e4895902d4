/**
 * The client-facing Chat service of one worker: checks every request, turns it
 * into events for the journal, and streams each applied event to the users in
 * its room's audience. Chat mode is an open Subscribe stream: while a user has
 * one, this worker refuses that user's Join and Leave.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { gateService } from '../common/handler-gate';
import { ftchatProto } from '../common/proto';
import { createEventId, postEventId, type ChatEvent } from '../core/event';
import { listPage, pageSize } from '../core/room-directory';
import { chatRequestError } from '../core/input-bounds';
import { vectorFromRecord, vectorToRecord, type VersionVector } from '../core/version-vector';
import type { ClusterConfig } from '../common/config';
import { errorMessage, type Logger } from '../common/log';
import { StorageError, type Journal, type Page } from '../storage/journal';
import { nameHash } from '../core/index-record';
import { isShown } from '../core/audience';
import type { Membership } from '../core/follow-graph';
import { AUTH_HEADER, bearerToken, connectMessage, fingerprint, keyText, mintNonce, mintToken, nonceError, otherKeyMessage, SESSION_TTL_MS, verifySignature, verifyToken, type ClusterKeys } from '../core/identity';
import type { ChatHandlers } from '../gen/ftchat/Chat';
import type { ConnectRequest__Output } from '../gen/ftchat/ConnectRequest';
import type { FollowRequest__Output } from '../gen/ftchat/FollowRequest';
import type { SubscribeItem } from '../gen/ftchat/SubscribeItem';
import type { SubscribeRequest__Output } from '../gen/ftchat/SubscribeRequest';
import { QuotaExceeded, type Quotas } from './quotas';
import { RoomKeys } from './room-keys';

/** A resumed stream's backlog is read from disk this many events at a time. */
const BACKLOG_PAGE = 500;

class Refusal extends Error {
  constructor(readonly code: grpc.status, message: string) {
    super(message);
  }
}

type Stream = grpc.ServerWritableStream<SubscribeRequest__Output, SubscribeItem>;

export interface ChatServiceOptions {
  machine: string;
  limits: ClusterConfig['limits'];
  quotas: Quotas;
  /** MAC keys of nonces and session tokens (from the cluster secret). */
  keys: ClusterKeys;
  log: Logger;
  /** Chat mode on the machine's other workers (see chat-presence). */
  presence: {
    /** Is `user` in chat mode on another worker? */
    elsewhere(user: string): boolean;
    /** `user`'s first chat stream here opened (on), or its last one closed (off). */
    changed(user: string, on: boolean): void;
  };
}

const chatDefinition = ftchatProto().ftchat.Chat.service;
const encodeItem = chatDefinition.Subscribe.responseSerialize as (item: SubscribeItem) => Buffer;

/**
 * The Chat service definition, with Subscribe items written already encoded: an
 * event fanned out to 1,000 followers is encoded once, not 1,000 times.
 */
export const chatServiceDefinition: grpc.ServiceDefinition = {
  ...chatDefinition,
  Subscribe: { ...chatDefinition.Subscribe, responseSerialize: (item: Buffer) => item },
};

export function createChatService(journal: Journal, opts: ChatServiceOptions): ChatHandlers {
  const index = journal.index;
  const roomKeys = new RoomKeys(journal);
  const streams = new Map<string, Set<Stream>>();
  /** Live items held back while a stream's backlog is still being read from disk. */
  const backlogging = new Map<Stream, Buffer[]>();
  /** Live items' bytes not yet taken by a stream's connection (held back ones included): past the cap, a reader is too slow. */
  const queuedBytes = new Map<Stream, number>();
  // Who in chat mode here may be shown a room's events (see audience), with the follow
  // graph's word on them: kept for the users with streams only, so fan-out costs the
  // room's readers here, not the whole follow graph.
  const readers = new Map<string, Map<string, Membership | undefined>>();
  const watch = (user: string, room: string, on: boolean): void => {
    let users = readers.get(room);
    if (on) {
      if (!users) readers.set(room, (users = new Map()));
      users.set(user, index.graph.membership(user, room));
    } else if (users?.delete(user) && users.size === 0) readers.delete(room);
  };

  journal.onApplied((e) => {
    if ((e.kind === 'join' || e.kind === 'leave') && streams.has(e.author)) watch(e.author, e.room, true);
    let encoded: Buffer | undefined; // once per event, not once per follower
    for (const [user, membership] of readers.get(e.room) ?? []) {
      if (!isShown(user, e, e.author === user, membership)) continue;
      for (const call of streams.get(user) ?? []) send(call, (encoded ??= encodeItem({ event: e })));
    }
  }, (room) => readers.has(room)); // another writer's posts to rooms nobody here reads need not be read

  const send = (call: Stream, item: Buffer): void => {
    const queued = (queuedBytes.get(call) ?? 0) + item.length;
    if (queued > opts.limits.maxStreamBacklogBytes) {
      refuse(call, new Refusal(grpc.status.RESOURCE_EXHAUSTED, 'reader too slow; resume from your cursor'));
      return;
    }
    queuedBytes.set(call, queued);
    const held = backlogging.get(call);
    if (held) held.push(item);
    else write(call, item);
  };
  const write = (call: Stream, item: Buffer): void => {
    // chatServiceDefinition passes encoded items through; the callback comes once the connection took the bytes
    call.write(item as unknown as SubscribeItem, () => {
      const left = (queuedBytes.get(call) ?? 0) - item.length;
      if (left > 0) queuedBytes.set(call, left);
      else queuedBytes.delete(call);
    });
  };

  /** An existing user (every name here passed chatRequestError). One created through another worker
   * a moment ago may not have reached us by doorbell yet, so the room file is read before the name is refused. */
  const user = async (u: string): Promise<string> => {
    if (!index.userExists(u)) await journal.refresh([u]);
    if (!index.userExists(u)) throw new Refusal(grpc.status.NOT_FOUND, `unknown user '${u}'`);
    return u;
  };

  /**
   * The user a call acts for: its session token's (metadata "authorization: Bearer
   * <token>"), whose key must still be the room's. A request field naming anyone
   * else is refused; an empty one means the session's user.
   */
  const authorize = async (call: { request: { user: string }; metadata: grpc.Metadata }): Promise<string> => {
    const token = bearerToken(call.metadata.get(AUTH_HEADER)[0]);
    const session = token === null ? 'no session token' : verifyToken(opts.keys, token, Date.now());
    if (typeof session === 'string') throw new Refusal(grpc.status.UNAUTHENTICATED, `${session}: connect again`);
    const named = call.request.user;
    if (named !== '' && named !== session.user) {
      throw new Refusal(grpc.status.PERMISSION_DENIED, `this session is ${session.user}'s: it cannot act for ${named}`);
    }
    const me = await user(session.user);
    if (roomKeys.of(me)?.fingerprint !== session.key) throw new Refusal(grpc.status.PERMISSION_DENIED, otherKeyMessage(me));
    return me;
  };

  /** Checks a Connect's proof of its key; stores its room (or its claim of a keyless one) and opens a session. */
  const connect = async (req: ConnectRequest__Output, peer: string) => {
    const me = req.user;
    const bad = nonceError(opts.keys, me, req.nonce, Date.now());
    if (bad) throw new Refusal(grpc.status.UNAUTHENTICATED, bad);
    if (!verifySignature(req.public_key, connectMessage(me, req.nonce), req.signature)) {
      throw new Refusal(grpc.status.UNAUTHENTICATED, 'signature does not verify with the given key');
    }
    const fp = fingerprint(req.public_key);
    if (!index.userExists(me)) await journal.refresh([me]);
    const created = !index.userExists(me);
    if (created) opts.quotas.newUser(peer);
    const owner = created ? null : roomKeys.of(me);
    if (owner && owner.fingerprint !== fp) throw new Refusal(grpc.status.PERMISSION_DENIED, otherKeyMessage(me));
    if (!owner) await journal.submit({ id: createEventId(me), kind: 'create', room: me, author: me, text: keyText(req.public_key) });
    // Another key may have been stored first (a race through another worker): the earliest decides.
    if (roomKeys.of(me)?.fingerprint !== fp) throw new Refusal(grpc.status.PERMISSION_DENIED, otherKeyMessage(me));
    const expiresAtMs = Date.now() + SESSION_TTL_MS;
    return { me, created, token: mintToken(opts.keys, { user: me, key: fp, expiresAtMs }), expires_at_ms: expiresAtMs };
  };

  const inChatMode = (u: string): boolean => (streams.get(u)?.size ?? 0) > 0 || opts.presence.elsewhere(u);

  /** Makes the next write sort after everything the client has seen (its bounds were checked). */
  const causedAfter = (h: { wall: number; logical: number } | null | undefined): void => {
    if (h && h.wall) journal.clock.observe({ wall: Number(h.wall), logical: h.logical });
  };

  const follow = async (kind: 'join' | 'leave', call: grpc.ServerUnaryCall<FollowRequest__Output, unknown>): Promise<ChatEvent> => {
    const req = call.request;
    const me = await authorize(call);
    const room = await user(req.room);
    if (inChatMode(me)) {
      throw new Refusal(grpc.status.FAILED_PRECONDITION, `cannot ${kind} rooms in chat mode; type 'exit' first`);
    }
    if (room === me) throw new Refusal(grpc.status.INVALID_ARGUMENT, 'you are always in your own room');
    const following = index.graph.isFollowing(me, room);
    if (kind === 'join' && following) throw new Refusal(grpc.status.ALREADY_EXISTS, `you already follow ${room}`);
    if (kind === 'leave' && !following) throw new Refusal(grpc.status.FAILED_PRECONDITION, `you do not follow ${room}`);
    const follows = index.graph.following(me).length - 1; // own room aside
    if (kind === 'join' && follows >= opts.limits.maxFollows) {
      throw new Refusal(grpc.status.RESOURCE_EXHAUSTED, `you follow ${follows} rooms, the most allowed; leave one first`);
    }
    opts.quotas.post(me);
    causedAfter(req.after);
    return journal.submit({ id: `${kind}/${me}/${room}/${randomUUID()}`, kind, room, author: me, text: '' });
  };

  /** A page of what `u` is shown after `cursor` (see audience). */
  const pageFor = (u: string, cursor: VersionVector, max: number, upTo?: VersionVector): Page => {
    const memberships = index.graph.memberships(u);
    const own = nameHash(u);
    return journal.page(
      cursor,
      (r, origin) => isShown(u, { kind: r.kind, room: r.room, hlc: { wall: r.wall, logical: r.logical }, origin }, r.authorHash === own, memberships.get(r.room)),
      max,
      upTo,
      (e) => isShown(u, e, e.author === u, memberships.get(e.room)), // the hash may collide
    );
  };

  // Every request's fields are checked here, in one place, before any handler sees them.
  return gateService<ChatHandlers>({
    Challenge: unary(opts.log, async (req) => ({ nonce: mintNonce(opts.keys, req.user, randomBytes(16), Date.now()) })),
    Connect: unary(opts.log, async (req, call) => {
      const { me, ...session } = await connect(req, call.getPeer());
      return { machine: opts.machine, worker: journal.origin, following: index.graph.following(me), ...session };
    }),
    Join: unary(opts.log, async (_req, call) => ({ event: await follow('join', call) })),
    Leave: unary(opts.log, async (_req, call) => ({ event: await follow('leave', call) })),
    List: unary(opts.log, async (req, call) => {
      const me = await authorize(call);
      const page = listPage(index.rooms, index.graph.following(me), req.prefix, req.page_token, pageSize(req.limit, opts.limits.maxMessageBytes));
      if (!page) throw new Refusal(grpc.status.INVALID_ARGUMENT, 'bad page token');
      const room = (following: boolean) => (name: string) => ({ name, following, own: name === me });
      return { rooms: [...page.following.map(room(true)), ...page.others.map(room(false))], next_page_token: page.next };
    }),
    Post: unary(opts.log, async (req, call) => {
      const me = await authorize(call);
      const id = postEventId(me, req.id || randomUUID());
      opts.quotas.post(me);
      causedAfter(req.after);
      return { event: await journal.submit({ id, kind: 'post', room: me, author: me, text: req.text }) };
    }),
    Timeline: unary(opts.log, async (req, call) => {
      const me = await authorize(call);
      const limit = Math.min(req.limit || opts.limits.historySize, 1000);
      return { events: journal.lastPosts(index.graph.following(me), limit), cursor: { seqs: vectorToRecord(index.vector()) } };
    }),
    Poll: unary(opts.log, async (req, call) => {
      const me = await authorize(call);
      const cursor = vectorFromRecord(req.cursor?.seqs);
      const page = pageFor(me, cursor, Math.min(req.max || 1000, 1000));
      return { events: page.events, cursor: { seqs: vectorToRecord(page.cursor) } };
    }),
    Subscribe: async (call: Stream) => {
      let me: string;
      try {
        me = await authorize(call);
        if ((streams.get(me)?.size ?? 0) >= opts.limits.maxStreamsPerUser) {
          throw new Refusal(grpc.status.RESOURCE_EXHAUSTED, `${me} has ${opts.limits.maxStreamsPerUser} chat streams open here, the most allowed; close one first`);
        }
      } catch (err) {
        refuse(call, err as Refusal);
        return;
      }
      // Registered first, with live events held back while the backlog up to this
      // moment's vector is read from disk in pages: nothing is missed or sent twice.
      let cursor = call.request.cursor ? vectorFromRecord(call.request.cursor.seqs) : index.vector();
      const upTo = index.vector();
      backlogging.set(call, []);
      let set = streams.get(me);
      if (!set) {
        streams.set(me, (set = new Set()));
        opts.presence.changed(me, true);
        watch(me, me, true);
        for (const room of index.graph.memberships(me).keys()) watch(me, room, true);
      }
      set.add(call);
      let open = true;
      const drop = (): void => {
        open = false;
        backlogging.delete(call);
        queuedBytes.delete(call);
        if (!set.delete(call)) return;
        if (set.size === 0 && streams.get(me) === set) {
          streams.delete(me);
          opts.presence.changed(me, false);
          for (const [room, users] of readers) if (users.has(me)) watch(me, room, false);
        }
      };
      call.on('cancelled', drop);
      call.on('close', drop);
      call.on('error', drop);
      try {
        for (;;) {
          const page = pageFor(me, cursor, BACKLOG_PAGE, upTo);
          cursor = page.cursor;
          let ok = true;
          for (const e of page.events) ok = call.write(encodeItem({ event: e }) as unknown as SubscribeItem) && ok;
          if (page.done || !open) break;
          if (!ok) await writableOrGone(call);
          else await new Promise((resolve) => setImmediate(resolve)); // a page at a time: other calls go on meanwhile
        }
      } catch (err) {
        opts.log.error('stream backlog failed', { error: errorMessage(err) });
        refuse(call, new Refusal(grpc.status.UNAVAILABLE, 'could not read the backlog; resume from your cursor'));
        return;
      }
      const held = backlogging.get(call) ?? [];
      backlogging.delete(call);
      if (open) for (const item of held) write(call, item); // counted when held
    },
  }, (method, call) => {
    const bad = chatRequestError(method, call.request, opts.limits, Date.now());
    return bad ? { code: grpc.status.INVALID_ARGUMENT, details: bad } : null;
  });
}

/** Resolves once the stream takes writes again or is gone; takes its listeners off (a long backlog waits many times). */
function writableOrGone(call: Stream): Promise<void> {
  const events = ['drain', 'close', 'cancelled'];
  return new Promise((resolve) => {
    const done = (): void => {
      for (const ev of events) call.off(ev, done);
      resolve();
    };
    for (const ev of events) call.on(ev, done);
  });
}

/** Ends a stream with the refusal's status. */
function refuse(call: Stream, err: Refusal): void {
  call.emit('error', { code: err.code, details: err.message });
}

/** Wraps an async handler: a Refusal becomes its status, anything else a logged INTERNAL or UNAVAILABLE. */
function unary<Req, Res>(log: Logger, fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request, call).then(
      (res) => callback(null, res),
      (err: unknown) => {
        if (err instanceof QuotaExceeded) return callback(err.status());
        if (err instanceof Refusal) return callback({ code: err.code, details: err.message });
        if (err instanceof StorageError) return callback({ code: grpc.status.UNAVAILABLE, details: err.message });
        log.error('request failed', { error: errorMessage(err) });
        callback({ code: grpc.status.INTERNAL, details: 'internal error' });
      },
    );
  };
}
