/**
 * One big catch-up at a time per machine. A machine that missed much pulls from
 * every peer at once, and each peer sends the same backlog (everything the puller's
 * vector lacks): twice the reading, sending and checking, half of it thrown away.
 * So one link streams a big backlog; the others stand back until it is done or
 * broke, then pull again with the vector it filled and get only what its peer
 * lacked. A link that stands back never skips anything: it pulls again. Pure.
 */
export class CatchUpGate {
  private leader: string | null = null;
  private readonly waiting = new Map<string, () => void>();

  /** Whether `link` may stream its big backlog now; if not, `wake` is called once it may try again. */
  lead(link: string, wake: () => void): boolean {
    if (this.leader === null || this.leader === link) {
      this.leader = link;
      this.waiting.delete(link);
      return true;
    }
    this.waiting.set(link, wake);
    return false;
  }

  /** `link`'s big backlog is done, or its stream broke, or it stopped: the links standing back try again. */
  release(link: string): void {
    this.waiting.delete(link);
    if (this.leader !== link) return;
    this.leader = null;
    const wakes = [...this.waiting.values()];
    this.waiting.clear();
    for (const wake of wakes) wake();
  }
}
