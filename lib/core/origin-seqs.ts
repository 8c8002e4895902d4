/**
 * Which of each origin's events an index holds: the version vector (every seq up
 * to it applied), the events held back behind a gap until it fills, and the seqs a
 * load found stored past a hole. Applying strictly in seq order is what makes
 * version-vector cursors exact. Only seqs here: what the events do is
 * event-index.ts's. Pure.
 */
import type { ChatEvent } from './event';
import type { SeqGap } from './bulk-seqs';
import { covers, type VersionVector } from './version-vector';

/** An event to apply, with its line's size where the caller knew it. */
export interface Released {
  e: ChatEvent;
  bytes?: number;
}

export class OriginSeqs {
  private readonly applied: VersionVector = new Map();
  private readonly held = new Map<string, Map<number, Released>>();
  /**
   * Per origin, seqs a load found stored past a hole (a corrupt line): their effect is
   * taken, but the vector waits below the hole, so a pull from a peer asks for it
   * again; once it comes, the vector moves over them.
   */
  private readonly stored = new Map<string, Set<number>>();

  /**
   * Takes the origin's `seq` if it is the next one: the vector moves to it (true).
   * An early one is held back if `event` is given (a seq known only by its index
   * record is not); false for it, and for one already had.
   */
  admit(origin: string, seq: number, event?: Released): boolean {
    if (covers(this.applied, origin, seq) || this.stored.get(origin)?.has(seq)) return false;
    if (seq > this.seqOf(origin) + 1) {
      if (!event) return false;
      const held = this.held.get(origin) ?? new Map<number, Released>();
      this.held.set(origin, held);
      if (!held.has(seq)) held.set(seq, event);
      return false;
    }
    this.applied.set(origin, seq);
    this.held.get(origin)?.delete(seq);
    return true;
  }

  /**
   * Moves the origin's vector over what now follows it: held events (returned, to
   * apply in this order) and seqs stored past a hole (their effect already taken).
   */
  release(origin: string): Released[] {
    const held = this.held.get(origin);
    const past = this.stored.get(origin);
    if (!held && !past) return [];
    const out: Released[] = [];
    for (let seq = this.seqOf(origin) + 1; ; seq++) {
      const r = held?.get(seq);
      if (r) {
        held?.delete(seq);
        out.push(r);
      } else if (!past?.delete(seq)) break;
      this.applied.set(origin, seq);
    }
    if (held?.size === 0) this.held.delete(origin);
    if (past?.size === 0) this.stored.delete(origin);
    return out;
  }

  /** Sets the origin's vector (a bulk load's end), with seqs found stored past its hole if any. */
  settle(origin: string, seq: number, past?: Set<number>): void {
    this.applied.set(origin, seq);
    if (past && past.size > 0) this.stored.set(origin, past);
  }

  /** The seqs missing here below what is held or stored past them, per origin. */
  holes(): SeqGap[] {
    const out: SeqGap[] = [];
    for (const origin of new Set([...this.held.keys(), ...this.stored.keys()])) {
      const present = new Set([...(this.held.get(origin)?.keys() ?? []), ...(this.stored.get(origin) ?? [])]);
      const top = Math.max(...present);
      for (let seq = this.seqOf(origin) + 1; seq < top; ) {
        if (present.has(seq)) {
          seq++;
          continue;
        }
        const from = seq;
        while (!present.has(seq)) seq++;
        out.push({ origin, from, to: seq - 1 });
      }
    }
    return out;
  }

  /** Whether this origin's event `seq` is here: applied, held back, or stored past a hole. */
  has(origin: string, seq: number): boolean {
    return covers(this.applied, origin, seq) || (this.held.get(origin)?.has(seq) ?? false) || (this.stored.get(origin)?.has(seq) ?? false);
  }

  /** The highest seq of an origin found here, holes or not: a writer stamps after it. */
  topSeq(origin: string): number {
    let top = this.seqOf(origin);
    for (const seq of this.held.get(origin)?.keys() ?? []) top = Math.max(top, seq);
    for (const seq of this.stored.get(origin) ?? []) top = Math.max(top, seq);
    return top;
  }

  /** Whether events stored here wait behind a hole (a checkpoint then would skip them at the next start). */
  hasStoredPastHoles(): boolean {
    return this.stored.size > 0;
  }

  /** Number of events held back waiting for an earlier seq, or stored past a hole. */
  heldBack(): number {
    let n = 0;
    for (const held of this.held.values()) n += held.size;
    for (const past of this.stored.values()) n += past.size;
    return n;
  }

  /** The events held back, in no particular order (for a checkpoint). */
  heldEvents(): ChatEvent[] {
    return [...this.held.values()].flatMap((held) => [...held.values()].map((r) => r.e));
  }

  vector(): VersionVector {
    return new Map(this.applied);
  }

  /** Every origin something is held of: applied, held back, or stored past a hole. */
  origins(): Set<string> {
    return new Set([...this.applied.keys(), ...this.held.keys(), ...this.stored.keys()]);
  }

  /** Highest applied seq of one origin (0 if none). */
  seqOf(origin: string): number {
    return this.applied.get(origin) ?? 0;
  }
}
