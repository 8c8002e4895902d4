/**
 * A peer link's state between its streams, pure: whether it is up and live, what a
 * broken stream is worth saying, and how long to wait before pulling again.
 */
import { backoffMs, type Backoff } from '../core/backoff';

/** Pulls again after a failure: 100 ms, doubling up to 1 s; a stream that brought news, or lasted the cap, starts over. */
export const PULL_BACKOFF: Backoff = { firstMs: 100, capMs: 1_000 };
/** How grpc-js says the peer's port refused the connection (it is not listening yet). */
const REFUSED = /ECONNREFUSED/;
/** The reason when the peer ended the stream: it stops cleanly. */
export const ENDED = 'stream ended';

/** What to do about a stream that broke: a log line (or none) and when to pull again. */
export interface Break {
  level: 'info' | 'warn' | 'debug' | null;
  message: string;
  delayMs: number;
}

export class LinkState {
  /** A stream from the peer delivers (it may still be catching up). */
  connected = false;
  /** The current stream has delivered its catch-up: we hold what the peer held when it began. */
  live = false;
  /** The link was stopped: it pulls no more. */
  stopped = false;
  /** Until we reach the peer (again), a refused connection means it is starting. */
  private expectRefusals = true;
  private lastFailure = '';
  private failures = 0;

  /** The stream's first batch came. */
  up(): void {
    this.connected = true;
    this.expectRefusals = false;
  }

  /**
   * A stream broke for `why`. Say so when a working link breaks or the reason changes
   * (e.g. a wrong secret); a peer that stays down is not news every second. A peer
   * ends its streams only when it stops cleanly; it refuses connections until it is
   * back, as one not started yet does (a cluster starts in any order): neither is
   * news. Anything else (a dropped link, TLS, a wrong secret) is a fault to show. A
   * stream that stored news or lasted resets the back-off: a peer whose streams fail
   * or end before either (a gap, an undecodable batch) is pulled ever less often.
   */
  broke(why: string, news: boolean, lastedMs: number): Break {
    if (why === ENDED) this.expectRefusals = true;
    let level: Break['level'] = null;
    let message = '';
    if (this.connected) [level, message] = [why === ENDED ? 'info' : 'warn', 'lost replication stream; pulling again'];
    else if (why !== this.lastFailure) [level, message] = [this.expectRefusals && REFUSED.test(why) ? 'debug' : 'warn', 'cannot pull from peer; retrying'];
    this.lastFailure = why;
    this.connected = false;
    this.live = false;
    if (news || lastedMs >= PULL_BACKOFF.capMs) this.failures = 0;
    this.failures++;
    return { level, message, delayMs: backoffMs(this.failures, PULL_BACKOFF) };
  }
}
