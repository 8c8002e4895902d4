/**
 * Token buckets, one per key (a user, a client address, a connection): each holds
 * up to `limit` tokens and refills at `limit` per `perMs`, so a key may burst up
 * to `limit` at once and then goes on at the steady rate. A request takes one
 * token or is told how long until one is there. Only buckets still refilling are
 * kept: a full bucket is the same as none, so memory follows the keys active
 * within one period, not every key ever seen. Pure: the time is passed in.
 */

export interface Rate {
  limit: number;
  perMs: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets kept before the first sweep of refilled ones. */
const FIRST_SWEEP = 1024;

export class TokenBuckets<K> {
  private readonly buckets = new Map<K, Bucket>();
  private sweepAt = FIRST_SWEEP;

  constructor(readonly rate: Rate) {
    if (!(rate.limit >= 1 && rate.perMs > 0)) throw new Error(`a token bucket needs limit >= 1 and perMs > 0 (got ${rate.limit} per ${rate.perMs} ms)`);
  }

  /** Takes a token from `key`'s bucket at `now`: 0 if taken, else the ms until one will be there (nothing taken). */
  take(key: K, now: number): number {
    return this.takeUpTo(key, 1, now).waitMs;
  }

  /** Takes up to `want` whole tokens at once: how many it took, or (none) the ms until one will be there. */
  takeUpTo(key: K, want: number, now: number): { taken: number; waitMs: number } {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.sweepAt) this.sweep(now);
      this.buckets.set(key, (b = { tokens: this.rate.limit, at: now }));
    }
    b.tokens = this.level(b, now);
    b.at = now;
    if (b.tokens < 1 - 1e-9) return { taken: 0, waitMs: Math.ceil(((1 - b.tokens) * this.rate.perMs) / this.rate.limit) };
    const taken = Math.max(1, Math.min(want, Math.floor(b.tokens + 1e-9)));
    b.tokens = Math.max(0, b.tokens - taken);
    return { taken, waitMs: 0 };
  }

  /** Puts back `n` tokens taken from `key`'s bucket and not used (up to its limit). */
  giveBack(key: K, n: number, now: number): void {
    const b = this.buckets.get(key);
    if (!b) return; // a full bucket
    b.tokens = Math.min(this.rate.limit, this.level(b, now) + n);
    b.at = now;
  }

  /** Keys whose bucket is still refilling (at the last sweep or since). */
  get size(): number {
    return this.buckets.size;
  }

  private level(b: Bucket, now: number): number {
    // A clock that stepped back refills nothing, rather than draining the bucket.
    return Math.min(this.rate.limit, b.tokens + (Math.max(0, now - b.at) * this.rate.limit) / this.rate.perMs);
  }

  /** Drops refilled buckets; the next sweep comes when the map has doubled from what stays. */
  private sweep(now: number): void {
    for (const [key, b] of this.buckets) if (this.level(b, now) >= this.rate.limit) this.buckets.delete(key);
    this.sweepAt = Math.max(FIRST_SWEEP, this.buckets.size * 2);
  }
}
