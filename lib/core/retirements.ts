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
import { RetirementChains } from './retirement-chains';
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
  /** The retirements by the incarnation that declared each, as chains (retirement-chains.ts). */
  private readonly chains = new RetirementChains();
  /** Each retired origin's final seq, and the retirement that retired it (an origin is retired once). */
  private readonly finals = new Map<string, number>();
  private readonly owner = new Map<string, string>();
  /** What a marker stands for, per marker read lately. */
  private readonly expansions = new Map<string, [string, number][]>();

  constructor(initial: Iterable<Retirement> = []) {
    for (const r of initial) if (this.refusal(r) === null) this.add(r);
  }

  /**
   * Null if a retirement (well formed: retirementError) may join the table; else why
   * not: it lists an origin another retirement retired already (an honest machine
   * declares only after it has heard its peers' retirements), or the table is full.
   * So a chain lists each origin once, and compaction takes time linear in the table.
   */
  refusal(r: Retirement): string | null {
    if (this.chains.has(r.by)) return null;
    for (const [origin, seq] of Object.entries(r.origins)) {
      const had = this.finals.get(origin);
      if (had !== undefined && had !== seq) return `retirement by ${r.by}: ${origin} was retired at seq ${had}, not ${seq}`;
      if (had !== undefined) return `retirement by ${r.by}: ${origin} was retired already, by ${this.owner.get(origin)}`;
    }
    const n = Object.keys(r.origins).length;
    if (this.finals.size + n > MAX_RETIRED_ORIGINS) return `retirement by ${r.by}: ${this.finals.size} origins retired already, at most ${MAX_RETIRED_ORIGINS}`;
    return null;
  }

  /** Takes a retirement that refusal() passes; false if one by the same incarnation is known already. */
  add(r: Retirement): boolean {
    if (this.chains.has(r.by)) return false;
    this.chains.add({ by: r.by, prev: r.prev, origins: { ...r.origins } });
    for (const [origin, seq] of Object.entries(r.origins)) {
      this.finals.set(origin, seq);
      this.owner.set(origin, r.by);
    }
    this.expansions.clear();
    return true;
  }

  all(): Retirement[] {
    return this.chains.all();
  }

  get size(): number {
    return this.chains.size;
  }

  has(by: string): boolean {
    return this.chains.has(by);
  }

  /** The seq a retirement says `origin` ended at, or undefined for one not retired. */
  finalSeq(origin: string): number | undefined {
    return this.finals.get(origin);
  }

  /**
   * `v` with a marker replaced by the final seqs of the origins it stands for (one
   * marker per machine is read: a compacted vector has no more); an unknown marker is
   * dropped, its origins read as absent.
   */
  expand(v: VersionVector): VersionVector {
    const out: VersionVector = new Map();
    const markers = new Map<string, string>();
    for (const [origin, seq] of v) {
      if (!origin.endsWith(MARKER_SUFFIX)) out.set(origin, seq);
      else if (!markers.has(machineOfOrigin(origin))) markers.set(machineOfOrigin(origin), origin.slice(0, -MARKER_SUFFIX.length));
    }
    for (const by of markers.values()) for (const [origin, seq] of this.expansion(by)) out.set(origin, Math.max(out.get(origin) ?? 0, seq));
    return out;
  }

  /** `v` (with no markers) with the origins it holds at their final seqs left out, one marker per machine in their place. */
  compact(v: VersionVector): VersionVector {
    const out: VersionVector = new Map(v);
    for (const by of this.chains.best(v).values()) {
      for (const r of this.chains.chainTo(by)) for (const [origin, seq] of Object.entries(r.origins)) if (out.get(origin) === seq) out.delete(origin);
      out.set(`${by}${MARKER_SUFFIX}`, 1);
    }
    return out;
  }

  /**
   * The retirement `incarnation` (of `machine`, caught up with every other machine)
   * declares, or null: its machine's older origins in `vector` that the chain it holds
   * did not retire, at the seqs it holds; none while one of them still waits for a
   * seq (`complete`). It follows the chain `vector` covers, so a chain with a
   * retirement nobody holds (forged) is passed over, not extended.
   */
  declare(machine: string, incarnation: string, vector: VersionVector, complete: (origin: string) => boolean): Retirement | null {
    const by = `${machine}.${incarnation}`;
    if (this.chains.has(by)) return null;
    const prev = this.chains.best(vector).get(machine) ?? '';
    const done = new Set(this.chains.chainTo(prev).flatMap((r) => Object.keys(r.origins)));
    const origins: Record<string, number> = {};
    for (const [origin, seq] of [...vector].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (machineOfOrigin(origin) !== machine || incarnationOfOrigin(origin) === by || done.has(origin) || !originParts(origin)) continue;
      if (this.owner.has(origin)) return null; // retired on a chain it does not hold: wait until it does
      if (!complete(origin)) return null;
      origins[origin] = seq;
    }
    const n = Object.keys(origins).length;
    if (n === 0 || n > MAX_RETIRED_PER_DECLARATION) return null;
    return { by, prev, origins };
  }

  /** What marker `by` stands for (cached: a cursor's marker is read at every Poll). */
  private expansion(by: string): [string, number][] {
    let e = this.expansions.get(by);
    if (!e) {
      e = this.chains.chainTo(by).flatMap((r) => Object.entries(r.origins));
      if (this.expansions.size >= 64) this.expansions.clear();
      this.expansions.set(by, e);
    }
    return e;
  }

}
