/**
 * A worker's quotas (config.quotas): new users per client address, posts per
 * user, requests per connection, each a token bucket held by this worker process.
 * Going over is RESOURCE_EXHAUSTED whose message says when to retry and whose
 * trailing metadata carries it as `retry-after-ms`, for clients that retry.
 */
import * as grpc from '@grpc/grpc-js';
import type { ClusterConfig } from '../common/config';
import { RETRY_AFTER_KEY } from '../common/proto';
import { TokenBuckets } from '../core/token-bucket';

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

export class Quotas {
  private readonly newUsers: TokenBuckets<string>;
  private readonly posts: TokenBuckets<string>;
  private readonly requests: TokenBuckets<string>;

  constructor(
    private readonly q: ClusterConfig['quotas'],
    private readonly now: () => number = Date.now,
  ) {
    this.newUsers = new TokenBuckets({ limit: q.newUsersPerAddressPerMinute, perMs: 60_000 });
    this.posts = new TokenBuckets({ limit: q.postsPerUserPerSecond, perMs: 1000 });
    this.requests = new TokenBuckets({ limit: q.requestsPerConnectionPerSecond, perMs: 1000 });
  }

  /** A user is about to be created for the client at `peer` (host:port). */
  newUser(peer: string): void {
    this.take(this.newUsers, addressOf(peer), `too many new users from your address: at most ${this.q.newUsersPerAddressPerMinute} a minute`);
  }

  /** `user` is about to write a post, join or leave. */
  post(user: string): void {
    this.take(this.posts, user, `too many posts: at most ${this.q.postsPerUserPerSecond} a second per user`);
  }

  /** Every call takes a token of its connection's bucket before it reaches its handler. */
  readonly interceptor: grpc.ServerInterceptor = (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, pass) => {
            try {
              this.take(this.requests, call.getPeer(), `too many requests on this connection: at most ${this.q.requestsPerConnectionPerSecond} a second`);
              pass(metadata);
            } catch (err) {
              call.sendStatus((err as QuotaExceeded).status());
            }
          },
        }),
    });

  private take(buckets: TokenBuckets<string>, key: string, what: string): void {
    const wait = buckets.take(key, this.now());
    if (wait > 0) throw new QuotaExceeded(what, wait);
  }
}

/** The address of a grpc-js peer string: "10.0.0.1:5555" or "::1:5555" (IPv6 without brackets). */
export function addressOf(peer: string): string {
  const colon = peer.lastIndexOf(':');
  return colon > 0 ? peer.slice(0, colon) : peer;
}
