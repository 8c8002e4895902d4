/**
 * A machine's quotas counted across its workers. The buckets live in one place,
 * the machine's primary (a QuotaLedger); a worker takes their tokens in small
 * leases, so a client address or a user is counted across all its connections and
 * every worker it lands on, at one IPC round trip per lease rather than per call.
 * A lease's unspent tokens lapse after LEASE_MS (an address that moved to another
 * worker gets them there again from the ledger) and go back to the ledger with the
 * key's next ask from that worker, so lapsing costs a caller at most one lease per
 * worker, not a lease per LEASE_MS. A refusal is remembered until its retry time, so
 * a caller over its quota costs no round trip. Pure: the time is passed in.
 */
import { TokenBuckets, type Rate } from './token-bucket';

export const QUOTA_KINDS = ['newUser', 'post', 'request'] as const;
export type QuotaKind = (typeof QUOTA_KINDS)[number];

/** Unspent tokens of a lease lapse this long after it was granted. */
export const LEASE_MS = 1_000;
/** A lease asks for this share of the figure: a few round trips per period at full rate. */
const LEASE_SHARE = 1 / 16;
/** Entries kept before the first sweep of lapsed ones. */
const FIRST_SWEEP = 1024;

export interface Grant {
  tokens: number;
  /** With no tokens: how long until the ledger has one. */
  waitMs: number;
}

/** How many tokens a worker asks for at once under `rate`. */
export function leaseSize(rate: Rate): number {
  return Math.max(1, Math.floor(rate.limit * LEASE_SHARE));
}

/** The machine's buckets, one set per kind: what a primary grants its workers. */
export class QuotaLedger {
  private readonly buckets: Record<QuotaKind, TokenBuckets<string>>;

  constructor(rates: Record<QuotaKind, Rate>) {
    this.buckets = { newUser: new TokenBuckets(rates.newUser), post: new TokenBuckets(rates.post), request: new TokenBuckets(rates.request) };
  }

  /**
   * Up to `want` tokens, after taking back the `unspent` ones of the asker's lapsed
   * lease (at most a lease); with none, the wait is until a whole lease is there, so a
   * caller at the steady rate asks once per lease, not once per token.
   */
  grant(kind: QuotaKind, key: string, want: number, now: number, unspent = 0): Grant {
    const b = this.buckets[kind];
    const lease = Math.min(Math.max(1, Math.floor(want)), b.rate.limit);
    if (unspent > 0) b.giveBack(key, Math.min(Math.floor(unspent), lease), now);
    const { taken, waitMs } = b.takeUpTo(key, lease, now);
    return { tokens: taken, waitMs: taken > 0 ? 0 : waitMs + Math.ceil(((lease - 1) * b.rate.perMs) / b.rate.limit) };
  }
}

interface Held {
  /** Tokens left of the lease; 0: refused until `until`. */
  tokens: number;
  until: number;
}

/** One worker's leases of one kind, by key. */
export class QuotaLeases {
  private readonly held = new Map<string, Held>();
  private sweepAt = FIRST_SWEEP;

  /** Takes a token of `key`'s lease: 0 if taken, the ms to wait if the ledger refused, or 'ask' for a lease. */
  take(key: string, now: number): number | 'ask' {
    const h = this.held.get(key);
    if (!h || now >= h.until) return 'ask';
    if (h.tokens === 0) return h.until - now;
    if (--h.tokens === 0) this.held.delete(key);
    return 0;
  }

  /** The tokens of `key`'s lapsed lease, for its next ask to give back (then forgotten). */
  unspent(key: string, now: number): number {
    const h = this.held.get(key);
    if (!h || now < h.until) return 0;
    this.held.delete(key);
    return h.tokens;
  }

  /** The ledger's answer to an ask for `key`. */
  granted(key: string, g: Grant, now: number): void {
    if (this.held.size >= this.sweepAt) this.sweep(now);
    if (g.tokens > 0) this.held.set(key, { tokens: g.tokens, until: now + LEASE_MS });
    else this.held.set(key, { tokens: 0, until: now + Math.max(1, g.waitMs) });
  }

  private sweep(now: number): void {
    for (const [key, h] of this.held) if (now >= h.until) this.held.delete(key);
    this.sweepAt = Math.max(FIRST_SWEEP, this.held.size * 2);
  }
}
