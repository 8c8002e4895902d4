/**
 * Which of a peer's origins a machine stores events of, so that its vectors stay
 * within what cursors and pull vectors accept (issue 18.5), whatever peers serve or
 * declare. An origin is well formed (origins.ts originError) before it gets here.
 *
 * An origin is "open" here while the machine's compacted vector would name it: a
 * live writer, a retired one it lacks events of or holds past its final seq, one no
 * marker covers, or one waiting behind a hole. An event that would open an origin
 * (its first here, or one past the final seq of a compacted one) needs room: fewer
 * than MAX_OPEN_ORIGINS open origins of its machine, whichever link brings it. Without
 * room it waits (a peer offers it again) until a retirement compacts some away.
 *
 * So a compacted vector names at most MAX_OPEN_ORIGINS origins of each machine and a
 * marker. A forged retirement can keep origins open, not add any. The room does not
 * depend on the link: machines that hold the same events of a machine, however they
 * got them, take the same further origins of it. (A room per link let one machine
 * fill up from a relay while its own link broke, and machines kept different sets.)
 * What a peer with a stolen certificate can still do is in docs/security.md. Pure.
 */
import { machineOfOrigin, MAX_OPEN_ORIGINS } from './origins';
import type { Retirements } from './retirements';
import type { VersionVector } from './version-vector';

/** How the reason for an origin that waits for room begins (the peer link logs these once per machine). */
export const OPEN_ORIGINS_REASON = 'too many open origins';

export class OriginGate {
  /** The vector as it will be once what this gate admitted is applied (events in seq order only). */
  private readonly vector: VersionVector;
  private readonly held: Set<string>;
  private open = new Set<string>();
  private openOf = new Map<string, number>();
  /** An admitted event brought a retired origin to its final seq: compaction may free room. */
  private closable = false;

  /**
   * `vector`: what the machine has applied; `held`: every origin it has anything of
   * (applied, or waiting behind a hole); `table`: the retirements it knows.
   */
  constructor(vector: VersionVector, held: Iterable<string>, private readonly table: Retirements) {
    this.vector = new Map(vector);
    this.held = new Set([...held, ...vector.keys()]);
    this.count();
  }

  /** Null if event `seq` of `origin` may be stored; else why it waits (one line). */
  admit(origin: string, seq: number): string | null {
    const bad = this.room(origin, seq);
    if (bad) return bad;
    this.held.add(origin);
    if (seq === (this.vector.get(origin) ?? 0) + 1) {
      this.vector.set(origin, seq);
      if (this.table.finalSeq(origin) === seq) this.closable = true;
    }
    return null;
  }

  private room(origin: string, seq: number): string | null {
    if (this.open.has(origin)) return null;
    const final = this.table.finalSeq(origin);
    if (this.vector.has(origin) && final !== undefined && seq <= final) return null; // compacted: nothing new
    const machine = machineOfOrigin(origin);
    if ((this.openOf.get(machine) ?? 0) >= MAX_OPEN_ORIGINS && this.closable) this.count();
    const open = this.openOf.get(machine) ?? 0;
    if (open >= MAX_OPEN_ORIGINS) return `${OPEN_ORIGINS_REASON} of ${machine}: ${open} here that no retirement covers, at most ${MAX_OPEN_ORIGINS}`;
    this.opened(origin);
    return null;
  }

  /** Counts the open origins afresh: those the compacted vector names, and those behind a hole. */
  private count(): void {
    this.closable = false;
    this.open = new Set();
    this.openOf = new Map();
    const named = this.table.compact(this.vector);
    for (const origin of this.held) if (named.has(origin) || !this.vector.has(origin)) this.opened(origin);
  }

  private opened(origin: string): void {
    if (this.open.has(origin)) return;
    this.open.add(origin);
    const machine = machineOfOrigin(origin);
    this.openOf.set(machine, (this.openOf.get(machine) ?? 0) + 1);
  }
}
