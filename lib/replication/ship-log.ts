/**
 * What a machine ships live to its peers: every event its index applies from now
 * on, in apply order, a retried post's second copy included (its slot must reach
 * every machine, or that origin would have a gap there). The index decides when a
 * slot counts as applied; this holds an early arrival only until then. What was
 * applied before a peer connected is read from disk (EventReads.page), not kept here.
 * Pure: no I/O.
 */
import type { ChatEvent } from '../core/event';
import { covers, type VersionVector } from '../core/version-vector';

export class ShipLog {
  private readonly logged: VersionVector = new Map(); // highest seq shipped per origin
  private readonly held = new Map<string, Map<number, ChatEvent>>();
  private readonly listeners = new Set<(events: ChatEvent[]) => void>();

  /** `appliedSeq(origin)`: the highest seq of that origin the index has applied. */
  constructor(private readonly appliedSeq: (origin: string) => number) {}

  /** Everything up to `vector` was applied before shipping began (the load). */
  startAt(vector: VersionVector): void {
    for (const [origin, seq] of vector) this.logged.set(origin, seq);
  }

  /** Takes an event the index has just seen, and ships whatever the index applied since. */
  offer(e: ChatEvent): void {
    if (covers(this.logged, e.origin, e.seq)) return;
    let held = this.held.get(e.origin);
    if (!held) this.held.set(e.origin, (held = new Map()));
    if (!held.has(e.seq)) held.set(e.seq, e);
    this.shipApplied(e.origin);
  }

  /** Calls `fn` with each run of newly applied events; returns the unsubscribe. */
  subscribe(fn: (events: ChatEvent[]) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private shipApplied(origin: string): void {
    const upTo = this.appliedSeq(origin);
    if (covers(this.logged, origin, upTo)) return;
    this.logged.set(origin, upTo);
    const held = this.held.get(origin);
    if (!held) return;
    // Held seqs up to what the index applied ship now, in seq order (one it settled past never comes).
    const fresh = [...held].filter(([seq]) => seq <= upTo).sort(([a], [b]) => a - b).map(([seq, e]) => {
      held.delete(seq);
      return e;
    });
    if (held.size === 0) this.held.delete(origin);
    if (fresh.length > 0) for (const fn of this.listeners) fn(fresh);
  }
}
