/**
 * A connection's failover: a call goes to the current server with a short
 * deadline; if that server is unreachable or too slow, it moves on round robin
 * through the list until one answers or the total time runs out, greeting each
 * new server first (server-sessions.ts). A quota's hold-back is waited out on the
 * same server; a refusal is the server's answer, not a fault.
 */
import * as grpc from '@grpc/grpc-js';
import { RETRY_AFTER_KEY } from '../common/proto';
import { backoffMs } from '../core/backoff';
import { isConnectionRefused, RefusedServers } from './refused-servers';
import type { Greeting, ServerSessions } from './server-sessions';

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

export class Failover {
  private current = 0;
  /** When a server's quota last held a call back (performance.now()); a hold-back soon after is not news. */
  private throttledAt = -Infinity;
  private readonly opts: FailoverOptions;

  constructor(
    private readonly servers: string[],
    private readonly sessions: ServerSessions,
    opts: Partial<FailoverOptions>,
    private readonly events: ConnectionEvents,
  ) {
    this.opts = { ...DEFAULT_FAILOVER, ...opts };
  }

  /** One attempt's deadline in the first round (a round trip's). */
  get attemptMs(): number {
    return this.opts.attemptMs;
  }

  /** Runs `attempt` on the current server, failing over (see above); `reuse`: a lost server's session is tried before a new handshake. */
  async run<T>(attempt: (server: string, deadline: number) => Promise<T>, reuse: boolean): Promise<T> {
    let end = Date.now() + this.opts.totalMs;
    const tried: string[] = [];
    let tlsFailure: string | null = null; // an attempt's, kept: a later one may only time out
    // Servers whose certificate our CA refused: that does not change on a retry, so once
    // every server has, the call gives up instead of spending its whole budget.
    const tlsRefused = new Set<string>();
    // Before the first greeting a client may give up as soon as nothing listens anywhere.
    const refused = !this.sessions.any && this.opts.refusedForMs !== undefined ? new RefusedServers(this.servers, this.opts.refusedForMs) : null;
    let renewed = false;
    for (let n = 1; ; n++) {
      const server = this.servers[this.current];
      // A dead server answers UNAVAILABLE at once; the deadline is for silent or slow ones, and a
      // server that was merely slow (a busy disk) gets longer each round rather than timing out forever.
      const round = Math.floor((n - 1) / this.servers.length);
      const deadline = Math.min(Date.now() + backoffMs(round + 1, { firstMs: this.opts.attemptMs, capMs: this.opts.totalMs }), end);
      const reused = reuse && this.sessions.isLost(server);
      try {
        await this.greet(server, deadline, reuse);
        const res = await attempt(server, deadline);
        this.sessions.answered(server);
        return res;
      } catch (err) {
        const code = (err as grpc.ServiceError)?.code;
        // The session expired (or this server's clock says so), or a reused one finds no room
        // here (the server lost its data): prove the key again, once (Connect creates the room).
        if ((code === grpc.status.UNAUTHENTICATED || (reused && code === grpc.status.NOT_FOUND)) && !renewed) {
          renewed = true;
          this.sessions.forget(server);
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
        this.sessions.lost(server);
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
    const switched = await this.sessions.greet(server, deadline, reuse);
    if (switched) this.events.onSwitch?.(switched);
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
