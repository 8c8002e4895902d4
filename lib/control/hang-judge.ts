/**
 * When a primary may judge a silent child hung and kill it itself. A tick far later
 * than due means we did not run (paused, or starved): the children's silence since
 * is ours, not theirs, so they get a ping round to answer before anyone is judged
 * again. The master may have a child that is not answering killed; we kill one only
 * after a longer silence, and a much longer one while the master watches us, so the
 * two never race. Pure: fed the monotonic time.
 */
import { MASTER_WATCH_MS } from './timing-policy';

export class HangJudge {
  private lastTick: number | undefined;
  /** No child is judged silent before this: we were paused, and their answers are still to come. */
  private judgeFrom = -Infinity;
  private masterSeenAt = -Infinity;

  constructor(
    private readonly deadAfterMs: number,
    private readonly pingEveryMs: number,
  ) {}

  /** Our ping round, every pingEveryMs. */
  tick(now: number): void {
    if (this.paused(now)) this.judgeFrom = now + this.pingEveryMs;
    this.lastTick = now;
  }

  /** The master asked about our children: while it watches, hung children are its call. */
  masterSeen(now: number): void {
    this.masterSeenAt = now;
  }

  /** Whether a child's silence is its own as of `now`: no pause of ours since the last round, nor a round owed after one. */
  mayJudge(now: number): boolean {
    return !this.paused(now) && now >= this.judgeFrom;
  }

  /** Our own kill limit for a silent child: three failure timeouts, ten while the master watches. */
  killAfterMs(now: number): number {
    return this.deadAfterMs * (now - this.masterSeenAt < MASTER_WATCH_MS ? 10 : 3);
  }

  private paused(now: number): boolean {
    return this.lastTick !== undefined && now - this.lastTick > 2 * this.pingEveryMs;
  }
}
