/** A gate that opens at most once every `everyMs` of the caller's monotonic clock, the first time at once. */
export class OnceEvery {
  private openedAt = -Infinity;

  constructor(private readonly everyMs: number) {}

  /** Whether the gate opens at `now`; if it does, the next time is `everyMs` later. */
  due(now: number): boolean {
    if (now - this.openedAt < this.everyMs) return false;
    this.openedAt = now;
    return true;
  }
}
