/**
 * What a machine can ship to its peers: every event its index has applied, in
 * apply order, a retried post's second copy included (its slot must reach every
 * machine, or that origin would have a gap there). The index decides when a slot
 * counts as applied; this log keeps the events and their order. Pure: no I/O.
 */
import type { ChatEvent } from '../core/event';
import type { VersionVector } from '../core/version-vector';

export class ShipLog {
  private readonly order: ChatEvent[] = [];
  private readonly logged = new Map<string, number>(); // highest seq logged per origin
  private readonly held = new Map<string, Map<number, ChatEvent>>();
  private readonly listeners = new Set<(events: ChatEvent[]) => void>();

  /** `appliedSeq(origin)`: the highest seq of that origin the index has applied. */
  constructor(private readonly appliedSeq: (origin: string) => number) {}

  /** Takes an event the index has just seen, and logs whatever the index applied since. */
  offer(e: ChatEvent): void {
    if (e.seq <= (this.logged.get(e.origin) ?? 0)) return;
    let held = this.held.get(e.origin);
    if (!held) this.held.set(e.origin, (held = new Map()));
    if (!held.has(e.seq)) held.set(e.seq, e);
    this.advance(e.origin);
  }

  /** After a load, where the index settled past seqs lost for good: logs what follows them. */
  settle(origins: Iterable<string>): void {
    for (const origin of origins) this.advance(origin);
  }

  /** Logged events not covered by `vector`, in apply order. */
  after(vector: VersionVector): ChatEvent[] {
    return this.order.filter((e) => e.seq > (vector.get(e.origin) ?? 0));
  }

  get size(): number {
    return this.order.length;
  }

  /** Calls `fn` with each run of newly logged events; returns the unsubscribe. */
  subscribe(fn: (events: ChatEvent[]) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private advance(origin: string): void {
    const upTo = this.appliedSeq(origin);
    let seq = this.logged.get(origin) ?? 0;
    if (seq >= upTo) return;
    const held = this.held.get(origin);
    const fresh: ChatEvent[] = [];
    while (seq < upTo) {
      seq++;
      const e = held?.get(seq);
      if (!e) continue; // a seq the index settled past: lost here for good
      held!.delete(seq);
      fresh.push(e);
      this.order.push(e);
    }
    this.logged.set(origin, seq);
    if (held?.size === 0) this.held.delete(origin);
    if (fresh.length > 0) for (const fn of this.listeners) fn(fresh);
  }
}
