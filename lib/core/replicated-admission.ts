/**
 * Which events of replicated batches a commit may append: for each origin, only
 * the next seq this machine lacks, then the one after, and so on. An event already
 * here is skipped; one past a missing seq is refused and counted as gapped (a gap
 * stored would be settled past at the next load and never filled). A seq stored
 * here past a hole (a quarantined line) is passed over: the hole is what is wanted.
 * Pure.
 */
import type { ChatEvent } from './event';

/** What the machine holds: its applied seq per origin, and whether it has a seq (applied, held back or stored past a hole). */
export interface Holdings {
  seqOf(origin: string): number;
  has(origin: string, seq: number): boolean;
}

export interface Admitted {
  /** Events of the batch to append, in the batch's order. */
  taken: ChatEvent[];
  /** Events refused because an earlier seq of their origin is missing. */
  gapped: number;
}

/** Each batch's admitted events, in order; a later batch continues where the earlier ones left each origin. */
export function admitReplicated(batches: ChatEvent[][], here: Holdings): Admitted[] {
  const next = new Map<string, number>();
  return batches.map((events) => {
    const taken: ChatEvent[] = [];
    let gapped = 0;
    for (const e of events) {
      let n = next.get(e.origin) ?? here.seqOf(e.origin) + 1;
      while (here.has(e.origin, n)) n++;
      if (e.seq < n || here.has(e.origin, e.seq)) continue;
      if (e.seq > n) gapped++;
      else {
        next.set(e.origin, n + 1);
        taken.push(e);
      }
    }
    return { taken, gapped };
  });
}
