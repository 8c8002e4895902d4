/**
 * The client's link to the cluster: an ordered list of servers and failover
 * between them. Every call goes to the current server with a short deadline; if
 * that server is unreachable or too slow, the call moves on round robin through
 * the list until one answers or the total time runs out. A session with a server
 * begins with the identity handshake (identity.ts: Challenge, then a signed Connect,
 * which creates the user's room if needed), so a call that fails over first greets
 * its new server; a call refused for its session (expired) greets again, once.
 * A server that was lost and answers again (its worker revived) is first sent the
 * call with the session it issued (tokens are the cluster's, not the worker's):
 * the user's next post needs no handshake.
 */
import * as grpc from '@grpc/grpc-js';
import { ftchatProto, RETRY_AFTER_KEY } from '../common/proto';
import type { ChatClient } from '../gen/ftchat/Chat';
import type { ConnectResponse__Output } from '../gen/ftchat/ConnectResponse';
import type { FollowRequest } from '../gen/ftchat/FollowRequest';
import type { FollowResponse__Output } from '../gen/ftchat/FollowResponse';
import type { ListRequest } from '../gen/ftchat/ListRequest';
import type { ListResponse__Output } from '../gen/ftchat/ListResponse';
import type { PostRequest } from '../gen/ftchat/PostRequest';
import type { PostResponse__Output } from '../gen/ftchat/PostResponse';
import type { SubscribeItem__Output } from '../gen/ftchat/SubscribeItem';
import type { SubscribeRequest } from '../gen/ftchat/SubscribeRequest';
import type { TimelineRequest } from '../gen/ftchat/TimelineRequest';
import type { TimelineResponse__Output } from '../gen/ftchat/TimelineResponse';
import { compareHlc, type Hlc } from '../core/hlc';
import { handshake, sessionMetadata, type Identity } from './identity';
import { isConnectionRefused, RefusedServers } from './refused-servers';

import type { Event__Output } from '../gen/ftchat/Event';
import type { Hlc__Output } from '../gen/ftchat/Hlc';
import { KEEPALIVE_OPTIONS } from '../common/keepalive';
import { backoffMs, reconnectOptions } from '../core/backoff';

export interface FailoverOptions {
  /** Deadline of one attempt on one server in the first round; it doubles with each round. */
  attemptMs: number;
  /** How long a call keeps trying servers before it reports none reachable. */
  totalMs: number;
  /** Pause after each full round of the list, so a dead cluster is not hammered. */
  roundPauseMs: number;
  /**
   * Before the first greeting only: give up once every server has refused its
   * connection for this long (refused-servers.ts), instead of after `totalMs`.
   * Absent: wait out `totalMs` (a client that must find the cluster eventually).
   */
  refusedForMs?: number;
}

/** What a connection tells its user about, as it happens. */
export interface ConnectionEvents {
  /** A failover landed on a different server or worker than before. */
  onSwitch?(g: Greeting): void;
  /** A server's quota holds calls back (once a spell: see THROTTLE_NEWS_AFTER_MS); the call waits and retries. */
  onThrottled?(message: string): void;
  /** A call's first attempt failed and it goes on trying the list (once per call). */
  onRetrying?(servers: readonly string[]): void;
}

/** A hint is the server's, so untrusted: never wait longer than this at once. */
const MAX_RETRY_AFTER_MS = 60_000;

const DEFAULT_FAILOVER: FailoverOptions = { attemptMs: 2_000, totalMs: 15_000, roundPauseMs: 100 };

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // Reconnect fast after a server process is revived.
  ...reconnectOptions({ firstMs: 100, capMs: 300 }),
  ...KEEPALIVE_OPTIONS, // notice a silently dead connection under an open stream
};

/** The server answered and said no; the message is its status details. */
export class ServerRefusal extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export const NOT_RUNNING_HINT = 'is the cluster running? try fbs status';

export class NoServerReachable extends Error {
  constructor(
    readonly tried: string[],
    /** Why the last attempt failed, when that was TLS: the one thing a user can fix (the config's CA). */
    tlsFailure: string | null = null,
    /** Every server refused the connection itself: nothing listens there. */
    refused = false,
  ) {
    const why = tlsFailure
      ? `: TLS failed (${tlsFailure}); is the cluster's CA certificate the one the config names?`
      : `${refused ? ': each refused the connection' : ''}; ${NOT_RUNNING_HINT}`;
    super(`no server reachable (tried ${tried.join(', ')})${why}`);
  }
}

/** The TLS part of a transport failure's details (a certificate the CA does not vouch for, a peer speaking plaintext), or null. */
export function tlsFailureOf(details: string): string | null {
  // grpc-js: "No connection established. Last error: Error: <why>. Resolution note: ... (<time>)"
  const last = /Last error: (?:Error: )?(.*?)(?:\. Resolution note|\s\(|\n|$)/.exec(details)?.[1] || details;
  return /certificate|ssl|tls|handshake|wrong version number/i.test(last) ? last : null;
}

/** A TLS failure a retry will not cure (our CA refused the certificate, or the port speaks plaintext); a server dying mid-handshake fails TLS too, and comes back. */
function retryCannotCure(tlsFailure: string): boolean {
  return /certificate|wrong version number/i.test(tlsFailure);
}

interface UnaryCalls {
  Join: [FollowRequest, FollowResponse__Output];
  Leave: [FollowRequest, FollowResponse__Output];
  List: [ListRequest, ListResponse__Output];
  Post: [PostRequest, PostResponse__Output];
  Timeline: [TimelineRequest, TimelineResponse__Output];
}

type UnaryFn = (req: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: unknown) => void) => void;

export interface Greeting extends ConnectResponse__Output {
  server: string;
}

export class ChatConnection {
  private current = 0;
  private readonly clients = new Map<string, ChatClient>();
  /** Servers this session has greeted with Connect, and their answers. */
  private readonly greeted = new Map<string, Greeting>();
  /** Greeted servers lost since: a call tries its session there, connect() greets again. */
  private readonly lostSince = new Set<string>();
  private last: Greeting | null = null;
  /** The newest event timestamp this session has seen. */
  private seen: Hlc | null = null;
  private closed = false;
  /** When a server's quota last held a call back (performance.now()); a hold-back soon after is not news. */
  private throttledAt = -Infinity;
  private readonly opts: FailoverOptions;

  constructor(
    private readonly identity: Identity,
    readonly servers: string[],
    /** TLS trusting the cluster CA (transport-security's userChannelCredentials). */
    private readonly credentials: grpc.ChannelCredentials,
    opts: Partial<FailoverOptions> = {},
    private readonly events: ConnectionEvents = {},
  ) {
    if (servers.length === 0) throw new Error('no servers to connect to');
    this.opts = { ...DEFAULT_FAILOVER, ...opts };
  }

  get user(): string {
    return this.identity.user;
  }

  /** Connects (creating the user's room), failing over as needed; returns the server's greeting. */
  connect(): Promise<Greeting> {
    return this.withFailover(async (server) => this.greeted.get(server) as Greeting, false);
  }

  async call<M extends keyof UnaryCalls>(method: M, req: UnaryCalls[M][0]): Promise<UnaryCalls[M][1]> {
    // Writes carry the newest timestamp seen, so the server stamps them after it.
    const sent = method === 'Post' || method === 'Join' || method === 'Leave' ? { ...req, after: this.seen } : req;
    const res = (await this.withFailover((server, deadline) => this.unary(server, method, sent, deadline), true)) as UnaryCalls[M][1];
    const r = res as { event?: Event__Output | null; events?: Event__Output[] };
    if (r.event) this.observe(r.event.hlc);
    for (const e of r.events ?? []) this.observe(e.hlc);
    return res;
  }

  /** Takes in the timestamp of an event the user was shown or stored (see `call`). */
  observe(h: Hlc__Output | null | undefined): void {
    if (h && (!this.seen || compareHlc(h, this.seen) > 0)) this.seen = { wall: Number(h.wall), logical: h.logical };
  }

  /** Opens a stream on a server just returned by connect(); failover is the caller's loop. */
  subscribe(server: string, req: SubscribeRequest): grpc.ClientReadableStream<SubscribeItem__Output> {
    return this.client(server).Subscribe(req, sessionMetadata(this.greeted.get(server)?.token ?? ''));
  }

  /**
   * One round trip to a server, ignoring its outcome. Whatever was sent to it
   * before (a stream's cancellation) has been read by the server when this resolves.
   */
  async roundTrip(server: string): Promise<void> {
    await this.unary(server, 'Challenge', { user: this.user }, Date.now() + this.opts.attemptMs).catch(() => undefined);
  }

  /** Marks a server as lost: the next connect() greets it (or the next one) again; a call first tries the session it has. */
  lost(server: string): void {
    if (this.greeted.has(server)) this.lostSince.add(server);
  }

  /** Drops a server's session (refused): the next call greets it again. */
  private forget(server: string): void {
    this.greeted.delete(server);
    this.lostSince.delete(server);
  }

  close(): void {
    this.closed = true;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  /** `reuse`: a lost server's session is tried before a new handshake (see lost()). */
  private async withFailover<T>(attempt: (server: string, deadline: number) => Promise<T>, reuse: boolean): Promise<T> {
    let end = Date.now() + this.opts.totalMs;
    const tried: string[] = [];
    let tlsFailure: string | null = null; // an attempt's, kept: a later one may only time out
    // Servers whose certificate our CA refused: that does not change on a retry, so once
    // every server has, the call gives up instead of spending its whole budget.
    const tlsRefused = new Set<string>();
    // Before the first greeting a client may give up as soon as nothing listens anywhere.
    const refused = this.last === null && this.opts.refusedForMs !== undefined ? new RefusedServers(this.servers, this.opts.refusedForMs) : null;
    let renewed = false;
    for (let n = 1; ; n++) {
      const server = this.servers[this.current];
      // A dead server answers UNAVAILABLE at once; the deadline is for silent or slow ones, and a
      // server that was merely slow (a busy disk) gets longer each round rather than timing out forever.
      const round = Math.floor((n - 1) / this.servers.length);
      const deadline = Math.min(Date.now() + backoffMs(round + 1, { firstMs: this.opts.attemptMs, capMs: this.opts.totalMs }), end);
      const reused = reuse && this.lostSince.has(server);
      try {
        await this.greet(server, deadline, reuse);
        const res = await attempt(server, deadline);
        this.lostSince.delete(server);
        return res;
      } catch (err) {
        const code = (err as grpc.ServiceError)?.code;
        // The session expired (or this server's clock says so), or a reused one finds no room
        // here (the server lost its data): prove the key again, once (Connect creates the room).
        if ((code === grpc.status.UNAUTHENTICATED || (reused && code === grpc.status.NOT_FOUND)) && !renewed) {
          renewed = true;
          this.forget(server);
          n--;
          continue;
        }
        const wait = retryAfterMs(err);
        if (wait !== null) {
          // A quota, not a fault: the same server, after the wait it asked for.
          // Said once per spell: a typist near the limit is let through now and then (sooner on a busy machine).
          if (performance.now() - this.throttledAt > THROTTLE_NEWS_AFTER_MS) this.events.onThrottled?.((err as grpc.ServiceError).details);
          this.throttledAt = performance.now();
          await sleep(wait);
          end = Math.max(end, Date.now() + this.opts.totalMs);
          n--;
          continue;
        }
        if (!isTransient(err)) throw asRefusal(err);
        this.lost(server);
        if (tried.length === 0) this.events.onRetrying?.(this.servers);
        if (!tried.includes(server)) tried.push(server);
        const details = (err as grpc.ServiceError).details ?? '';
        const failure = tlsFailureOf(details);
        if (failure && retryCannotCure(failure)) tlsRefused.add(server);
        else tlsRefused.delete(server);
        tlsFailure = failure ?? tlsFailure;
        refused?.record(server, isConnectionRefused(details), Date.now());
        if (refused?.all(Date.now())) throw new NoServerReachable(tried, null, true);
        if (Date.now() >= end || tlsRefused.size === this.servers.length) throw new NoServerReachable(tried, tlsFailure);
        this.current = (this.current + 1) % this.servers.length;
        if (n % this.servers.length === 0) await sleep(Math.min(this.opts.roundPauseMs, end - Date.now()));
      }
    }
  }

  private async greet(server: string, deadline: number, reuse: boolean): Promise<void> {
    if (this.greeted.has(server) && (reuse || !this.lostSince.has(server))) return;
    const res = await handshake((method, req) => this.unary(server, method, req, deadline), this.identity);
    const g: Greeting = { ...res, server };
    this.greeted.set(server, g);
    this.lostSince.delete(server);
    const prev = this.last;
    this.last = g;
    if (prev && (prev.server !== g.server || prev.machine !== g.machine || prev.worker !== g.worker)) this.events.onSwitch?.(g);
  }

  private unary(server: string, method: string, req: unknown, deadline: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const client = this.client(server);
      const fn = client[method as keyof ChatClient] as unknown as UnaryFn;
      const token = method === 'Challenge' || method === 'Connect' ? undefined : this.greeted.get(server)?.token;
      fn.call(client, req, token ? sessionMetadata(token) : new grpc.Metadata(), { deadline }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  private client(server: string): ChatClient {
    if (this.closed) throw new Error('connection closed');
    let c = this.clients.get(server);
    if (!c) {
      const P = ftchatProto();
      c = new P.ftchat.Chat(server, this.credentials, CHANNEL_OPTIONS);
      this.clients.set(server, c);
    }
    return c;
  }
}

/** Failures that say nothing about the request, only about the server or the path to it. */
function isTransient(err: unknown): boolean {
  const code = (err as grpc.ServiceError)?.code;
  return code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED;
}

/** A hold-back this long after the last one is a new spell, worth a note again. */
const THROTTLE_NEWS_AFTER_MS = 10_000;

/** The wait a RESOURCE_EXHAUSTED asks for in its `retry-after-ms` trailer; null for anything else. */
function retryAfterMs(err: unknown): number | null {
  const e = err as grpc.ServiceError;
  if (e?.code !== grpc.status.RESOURCE_EXHAUSTED) return null;
  const ms = Number(e.metadata?.get(RETRY_AFTER_KEY)[0]);
  return Number.isFinite(ms) && ms >= 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : null;
}

function asRefusal(err: unknown): Error {
  const e = err as grpc.ServiceError;
  if (typeof e?.code === 'number') return new ServerRefusal(e.code, e.details || grpc.status[e.code]);
  return err instanceof Error ? err : new Error(String(err));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
