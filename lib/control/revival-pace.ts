/**
 * When a guardian may act on its dead primary again. A revival under way, its own
 * or the ring leader's, gets `graceMs` to bring up a beating primary before this
 * guardian elects again, and its own revivals come at most once a grace; but once
 * the guardian has itself seen the primary dead for `fallbackMs`, it revives it
 * whatever the ring says. A primary heard ends every wait: its next death is a new one.
 * Pure: fed the monotonic time.
 */
export class RevivalPace {
  /** A revival (ours, or the ring leader's) is under way until then: no new election before. */
  private waitUntil = 0;
  private revivedAt = -Infinity;

  constructor(
    private readonly graceMs: number,
    private readonly fallbackMs: number,
  ) {}

  heard(): void {
    this.waitUntil = 0;
    this.revivedAt = -Infinity;
  }

  /** We start the primary now. */
  revived(now: number): void {
    this.revivedAt = now;
    this.waitUntil = now + this.graceMs;
  }

  /** The ring's leader is starting it. */
  leaderReviving(now: number): void {
    this.waitUntil = now + this.graceMs;
  }

  /** Whether we may start it ourselves: not within a grace of our last start. */
  mayRevive(now: number): boolean {
    return now - this.revivedAt >= this.graceMs;
  }

  /** Dead by our own sight for so long that we start it whatever the ring says. */
  fallbackDue(deadForMs: number, now: number): boolean {
    return deadForMs >= this.fallbackMs && this.mayRevive(now);
  }

  /** Whether we may open an election: no revival is under way. */
  mayElect(now: number): boolean {
    return now >= this.waitUntil;
  }
}
