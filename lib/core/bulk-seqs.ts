/**
 * A bulk load's view of seqs: a scan of the room files, room after room, meets
 * each origin's seqs in any order, and holding early ones back would hold nearly
 * all of them. But rooms, the follow graph and the clock do not depend on arrival
 * order, so each event's effect is taken at once and only its seq is noted here;
 * the end of the pass says up to where each origin turned out dense. Pure.
 */

/** Seqs from..to of an origin, missing (a type, not an interface: it is logged as a record). */
export type SeqGap = { origin: string; from: number; to: number };

/** Per origin: its applied seq when the pass began, which seqs past it were seen, the highest. */
interface Seen {
  base: number;
  seen: Uint8Array;
  max: number;
}

export class BulkSeqs {
  private readonly origins = new Map<string, Seen>();

  /** Notes the origin's `seq` (its applied seq is `applied`); false for one already had. */
  take(origin: string, seq: number, applied: number): boolean {
    let b = this.origins.get(origin);
    if (!b) {
      if (seq <= applied) return false;
      this.origins.set(origin, (b = { base: applied, seen: new Uint8Array(1024), max: applied }));
    }
    const at = seq - b.base - 1;
    if (at < 0) return false;
    if (at >= b.seen.length) {
      const grown = new Uint8Array(Math.max(at + 1, b.seen.length * 2));
      grown.set(b.seen);
      b.seen = grown;
    }
    if (b.seen[at] === 1) return false;
    b.seen[at] = 1;
    b.max = Math.max(b.max, seq);
    return true;
  }

  /**
   * Ends a pass: where each origin's applied seq now reaches (its last dense one),
   * which origins were dense to their end (done with), and the gaps of the others,
   * which stay for another pass (a writer may have appended the missing seq after
   * its room was read) or for `holdGaps`.
   */
  end(): { reached: Map<string, number>; dense: string[]; gaps: SeqGap[] } {
    const reached = new Map<string, number>();
    const dense: string[] = [];
    const gaps: SeqGap[] = [];
    for (const [origin, b] of this.origins) {
      const run = denseRun(b);
      reached.set(origin, b.base + run);
      if (run === b.max - b.base) {
        this.origins.delete(origin);
        dense.push(origin);
        continue;
      }
      for (let i = run; i < b.max - b.base; ) {
        let j = i;
        while (j < b.max - b.base && b.seen[j] === 0) j++;
        if (j > i) gaps.push({ origin, from: b.base + i + 1, to: b.base + j });
        i = j + 1;
      }
    }
    return { reached, dense, gaps };
  }

  /** Ends the load leaving each hole open: per origin, where its applied seq reaches and the seqs seen past its first hole. */
  holdGaps(): { origin: string; reached: number; past: Set<number> }[] {
    return [...this.origins].map(([origin, b]) => {
      const run = denseRun(b);
      const past = new Set<number>();
      for (let i = run; i < b.max - b.base; i++) if (b.seen[i] === 1) past.add(b.base + i + 1);
      return { origin, reached: b.base + run, past };
    });
  }

  get empty(): boolean {
    return this.origins.size === 0;
  }
}

/** How many seqs past the base were seen without a gap. */
function denseRun(b: Seen): number {
  let dense = 0;
  while (dense < b.max - b.base && b.seen[dense] === 1) dense++;
  return dense;
}
