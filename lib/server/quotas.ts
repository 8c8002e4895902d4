/**
 * A worker's side of the machine's quotas (config.quotas): new users and requests
 * per client address, posts per user, each counted across the machine's workers
 * through leases of the primary's buckets (core/quota-leases). Going over is
 * RESOURCE_EXHAUSTED whose message says when to retry and whose trailing metadata
 * carries it as `retry-after-ms`, for clients that retry.
 */
import * as grpc from '@grpc/grpc-js';
import type { ClusterConfig } from '../common/config';
import { RETRY_AFTER_KEY } from '../common/proto';
import { leaseSize, QuotaLeases, type Grant, type QuotaKind } from '../core/quota-leases';
import type { Rate } from '../core/token-bucket';
import { metrics } from '../common/metrics';

export class QuotaExceeded extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(`${message}; retry in ${retryAfterMs} ms`);
  }

  /** The status a call ends with. */
  status(): grpc.StatusObject {
    const metadata = new grpc.Metadata();
    metadata.set(RETRY_AFTER_KEY, String(this.retryAfterMs));
    return { code: grpc.status.RESOURCE_EXHAUSTED, details: this.message, metadata };
  }
}

/** The machine's buckets, from the config: what the primary's ledger holds. */
export function quotaRates(q: ClusterConfig['quotas']): Record<QuotaKind, Rate> {
  return {
    newUser: { limit: q.newUsersPerAddressPerMinute, perMs: 60_000 },
    post: { limit: q.postsPerUserPerSecond, perMs: 1000 },
    request: { limit: q.requestsPerAddressPerSecond, perMs: 1000 },
  };
}

/** Asks the machine's ledger for up to `want` tokens of `key`'s bucket of `kind`, giving back the `unspent` ones of a lapsed lease. */
export type AskLedger = (kind: QuotaKind, key: string, want: number, unspent: number) => Promise<Grant>;

export class Quotas {
  private readonly leases: Record<QuotaKind, QuotaLeases> = { newUser: new QuotaLeases(), post: new QuotaLeases(), request: new QuotaLeases() };
  private readonly rates: Record<QuotaKind, Rate>;
  /** Asks in flight, by kind and key: callers waiting for one key share one round trip. */
  private readonly asking = new Map<string, Promise<void>>();

  constructor(
    private readonly q: ClusterConfig['quotas'],
    private readonly ask: AskLedger,
    private readonly now: () => number = Date.now,
  ) {
    this.rates = quotaRates(q);
  }

  /** A user is about to be created for the client at `peer` (host:port). */
  newUser(peer: string): Promise<void> {
    return this.take('newUser', addressOf(peer), `too many new users from your address: at most ${this.q.newUsersPerAddressPerMinute} a minute`);
  }

  /** Bytes of room-file lines a user may write (not a rate: see chat-writes). */
  get storageBytesPerUser(): number {
    return this.q.storageBytesPerUser;
  }

  /** `user` is about to write a post, join or leave. */
  post(user: string): Promise<void> {
    return this.take('post', user, `too many posts: at most ${this.q.postsPerUserPerSecond} a second per user`);
  }

  /** Every call takes a token of its client address's bucket before it reaches its handler. */
  readonly interceptor: grpc.ServerInterceptor = (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, pass) => {
            this.take('request', addressOf(call.getPeer()), `too many requests from your address: at most ${this.q.requestsPerAddressPerSecond} a second`).then(
              () => pass(metadata),
              (err: unknown) => call.sendStatus(err instanceof QuotaExceeded ? err.status() : { code: grpc.status.INTERNAL, details: 'internal error' }),
            );
          },
        }),
    });

  /** Callers waiting on one ask share its lease; those it did not reach ask again, until the ledger says wait. */
  private async take(kind: QuotaKind, key: string, what: string): Promise<void> {
    for (;;) {
      const r = this.leases[kind].take(key, this.now());
      if (r === 0) return;
      if (r !== 'ask') {
        metrics.quotaRefusals.inc({ kind });
        throw new QuotaExceeded(what, r);
      }
      await this.askOnce(kind, key);
    }
  }

  private askOnce(kind: QuotaKind, key: string): Promise<void> {
    const id = `${kind}\u0000${key}`;
    let p = this.asking.get(id);
    if (!p) {
      // No answer (no primary to ask): the call goes through rather than fail.
      const answered = (g: Grant): void => {
        this.asking.delete(id);
        this.leases[kind].granted(key, g, this.now());
      };
      p = this.ask(kind, key, leaseSize(this.rates[kind]), this.leases[kind].unspent(key, this.now())).then(answered, () => answered({ tokens: 1, waitMs: 0 }));
      this.asking.set(id, p);
    }
    return p;
  }
}

/** The address of a grpc-js peer string: "10.0.0.1:5555" or "::1:5555" (IPv6 without brackets). */
export function addressOf(peer: string): string {
  const colon = peer.lastIndexOf(':');
  return colon > 0 ? peer.slice(0, colon) : peer;
}
