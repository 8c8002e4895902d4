/**
 * Retired origins and how vectors leave them out. A machine rebuilt from an empty
 * data dir writes under a new incarnation; its older incarnations' origins never
 * grow again. Once the new incarnation's replicator has caught up with every other
 * machine of the cluster, it holds every event those origins will ever have here
 * (each event that survived is on some machine, which it pulled from since), and it
 * declares them retired with their final seqs: a Retirement, which every machine
 * keeps and passes on to its peers (Pull's batches).
 *
 * A vector on the wire (a client's cursor, a peer's pull vector) then carries, in
 * place of every origin a retirement and those before it retired at their final
 * seqs, one marker "<declaring incarnation>.retired". Compaction is exact: only an
 * origin at exactly its final seq is left out, and a reader that knows the
 * retirement reads the marker back as those seqs. A reader that does not know it
 * (it has not heard of it yet) reads the origins as absent, and sends their events
 * again, which the receiver passes over as already had. So vectors carry a bounded
 * number of origins however often the cluster is rebuilt: the live incarnations'
 * and a marker per machine. Pure.
 */
import { incarnationOfOrigin, LIVE_INCARNATIONS, machineOfOrigin, MAX_WRITER_SLOTS, originParts } from './origins';
import type { VersionVector } from './version-vector';

export interface Retirement {
  /** The incarnation that declared it ("m2.3fa2c1"): its machine's current one, retiring that machine's older ones. */
  by: string;
  /** The retirement of the same machine this one follows (whose origins it does not repeat), or '' for none. */
  prev: string;
  /** Each retired origin and its final seq. */
  origins: Record<string, number>;
}

export const MARKER_SUFFIX = '.retired';

/** Origins one retirement may list: the live incarnations it retires, all their writer slots. */
const MAX_RETIRED_PER_DECLARATION = LIVE_INCARNATIONS * MAX_WRITER_SLOTS;
/** Origins all the retirements a machine keeps may list: 32,768 rebuilds of a machine of 2 workers (about 2 MB of retired.json). */
export const MAX_RETIRED_ORIGINS = 65_536;

/** Null if a retirement from outside (a peer, the file) is well formed for a cluster of `machines`; else why not. */
export function retirementError(r: unknown, machines: ReadonlySet<string>): string | null {
  if (typeof r !== 'object' || r === null) return 'not a retirement';
  const { by, prev, origins } = r as Record<string, unknown>;
  const byParts = typeof by === 'string' ? originParts(`${by}.w0`) : null;
  if (!byParts || !machines.has(byParts.machine)) return `retirement by '${String(by)}': no incarnation of a machine of this cluster`;
  const machine = byParts.machine;
  if (typeof prev !== 'string' || (prev !== '' && originParts(`${prev}.w0`)?.machine !== machine)) return `retirement by ${by}: bad prev`;
  if (typeof origins !== 'object' || origins === null) return `retirement by ${by}: no origins`;
  const entries = Object.entries(origins);
  if (entries.length === 0 || entries.length > MAX_RETIRED_PER_DECLARATION) return `retirement by ${by}: ${entries.length} origins`;
  for (const [origin, seq] of entries) {
    const p = originParts(origin);
    if (!p || p.machine !== machine || incarnationOfOrigin(origin) === by) return `retirement by ${by}: '${origin}' is no older origin of ${machine}`;
    if (!Number.isSafeInteger(seq) || (seq as number) < 1) return `retirement by ${by}: bad final seq of ${origin}`;
  }
  return null;
}

/** Every retirement a machine knows, and the vector compaction they allow. */
export class Retirements {
  private readonly byId = new Map<string, Retirement>();
  /** Per machine, its retirements' chains, each from the first to a latest (computed on demand). */
  private chainsCache: Map<string, Retirement[][]> | null = null;
  /** Each retired origin's final seq. */
  private readonly finals = new Map<string, number>();

  constructor(initial: Iterable<Retirement> = []) {
    for (const r of initial) this.add(r);
  }

  /**
   * Null if a retirement (well formed: retirementError) may join the table; else why
   * not: it gives an origin another final seq than one it has (final seqs never
   * differ between honest machines), or the table is full.
   */
  refusal(r: Retirement): string | null {
    if (this.byId.has(r.by)) return null;
    for (const [origin, seq] of Object.entries(r.origins)) {
      const had = this.finals.get(origin);
      if (had !== undefined && had !== seq) return `retirement by ${r.by}: ${origin} was retired at seq ${had}, not ${seq}`;
    }
    const n = Object.keys(r.origins).length;
    if (this.finals.size + n > MAX_RETIRED_ORIGINS) return `retirement by ${r.by}: ${this.finals.size} origins retired already, at most ${MAX_RETIRED_ORIGINS}`;
    return null;
  }

  /** Takes a retirement that refusal() passes; false if one by the same incarnation is known already. */
  add(r: Retirement): boolean {
    if (this.byId.has(r.by)) return false;
    this.byId.set(r.by, { by: r.by, prev: r.prev, origins: { ...r.origins } });
    for (const [origin, seq] of Object.entries(r.origins)) this.finals.set(origin, seq);
    this.chainsCache = null;
    return true;
  }

  all(): Retirement[] {
    return [...this.byId.values()];
  }

  get size(): number {
    return this.byId.size;
  }

  has(by: string): boolean {
    return this.byId.has(by);
  }

  /** The seq a retirement says `origin` ended at, or undefined for one not retired. */
  finalSeq(origin: string): number | undefined {
    return this.finals.get(origin);
  }

  /** `v` with each marker replaced by the final seqs of the origins it stands for; an unknown marker is dropped (its origins read as absent). */
  expand(v: VersionVector): VersionVector {
    const out: VersionVector = new Map();
    const markers: string[] = [];
    for (const [origin, seq] of v) {
      if (origin.endsWith(MARKER_SUFFIX)) markers.push(origin.slice(0, -MARKER_SUFFIX.length));
      else out.set(origin, seq);
    }
    for (const by of markers) {
      for (const r of this.chainTo(by)) for (const [origin, seq] of Object.entries(r.origins)) out.set(origin, Math.max(out.get(origin) ?? 0, seq));
    }
    return out;
  }

  /** `v` (with no markers) with the origins it holds at their final seqs left out, one marker per machine in their place. */
  compact(v: VersionVector): VersionVector {
    const out: VersionVector = new Map(v);
    for (const machine of this.chains().keys()) {
      const covered = this.covered(machine, v);
      if (covered.length === 0) continue;
      for (const r of covered) for (const [origin, seq] of Object.entries(r.origins)) if (out.get(origin) === seq) out.delete(origin);
      out.set(`${covered[covered.length - 1].by}${MARKER_SUFFIX}`, 1);
    }
    return out;
  }

  /**
   * The retirement `incarnation` (of `machine`, caught up with every other machine)
   * declares, or null: its machine's older origins in `vector` that no retirement it
   * holds all of retired, at the seqs it holds; none while one of them still waits for
   * a seq (`complete`). It follows the chain `vector` covers, so a chain with a
   * retirement nobody holds (forged) is passed over, not extended.
   */
  declare(machine: string, incarnation: string, vector: VersionVector, complete: (origin: string) => boolean): Retirement | null {
    const by = `${machine}.${incarnation}`;
    if (this.byId.has(by)) return null;
    const covered = this.covered(machine, vector);
    const done = new Set(covered.flatMap((r) => Object.keys(r.origins)));
    const origins: Record<string, number> = {};
    for (const [origin, seq] of [...vector].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (machineOfOrigin(origin) !== machine || incarnationOfOrigin(origin) === by || done.has(origin) || !originParts(origin)) continue;
      if (!complete(origin)) return null;
      origins[origin] = seq;
    }
    const n = Object.keys(origins).length;
    if (n === 0 || n > MAX_RETIRED_PER_DECLARATION) return null;
    return { by, prev: covered.length > 0 ? covered[covered.length - 1].by : '', origins };
  }

  /**
   * Of `machine`'s chains, the start whose every origin `v` holds up to its final seq
   * and that leaves the most origins out (those held at exactly their final seq; one
   * held past it, which only a forged retirement allows, stays in the vector beside
   * the marker). Choosing by what it leaves out, a retirement learned later can only
   * shrink a compacted vector.
   */
  private covered(machine: string, v: VersionVector): Retirement[] {
    let best: Retirement[] = [];
    let bestOut = 0;
    for (const chain of this.chains().get(machine) ?? []) {
      let n = 0;
      const out = new Set<string>();
      for (; n < chain.length; n++) {
        const entries = Object.entries(chain[n].origins);
        if (!entries.every(([o, seq]) => (v.get(o) ?? 0) >= seq)) break;
        for (const [o, seq] of entries) if (v.get(o) === seq) out.add(o);
      }
      if (out.size > bestOut) [best, bestOut] = [chain.slice(0, n), out.size];
    }
    return best;
  }

  /** The retirements a marker of `by` stands for: it and those before it (an unknown link ends the chain). */
  private chainTo(by: string): Retirement[] {
    const out: Retirement[] = [];
    const seen = new Set<string>();
    for (let r = this.byId.get(by); r && !seen.has(r.by); r = this.byId.get(r.prev)) {
      seen.add(r.by);
      out.push(r);
    }
    return out;
  }

  /** Per machine, each latest retirement's chain, first to last. */
  private chains(): Map<string, Retirement[][]> {
    if (this.chainsCache) return this.chainsCache;
    const followed = new Set([...this.byId.values()].map((r) => r.prev));
    const chains = new Map<string, Retirement[][]>();
    for (const r of this.byId.values()) {
      if (followed.has(r.by)) continue; // not a latest one
      const machine = machineOfOrigin(r.by);
      const list = chains.get(machine) ?? [];
      list.push(this.chainTo(r.by).reverse());
      chains.set(machine, list);
    }
    return (this.chainsCache = chains);
  }
}
