/**
 * What an origin is and how many a cluster may hold. An origin names one writer of
 * one data dir: "<machine>.<incarnation>.w<slot>" (m2.3fa2c1.w0). A machine's data
 * dir gets a new incarnation when it is rebuilt, so honest use adds `workers`
 * origins per rebuild; retired incarnations are compacted out of vectors
 * (retirements.ts). A peer's events are admitted only from origins this bounds:
 * a machine of the cluster config, a writer slot below MAX_WRITER_SLOTS, and at
 * most LIVE_INCARNATIONS incarnations of one machine not yet retired. So a vector
 * on the wire holds at most machines x LIVE_INCARNATIONS x MAX_WRITER_SLOTS live
 * origins and one marker per machine, whatever a peer serves. Pure.
 */

/** Writer slots per incarnation (config.workers is at most this). */
export const MAX_WRITER_SLOTS = 16;
/** Incarnations of one machine admitted before one of them is retired (two in honest use: the old and the new). */
export const LIVE_INCARNATIONS = 4;
/** What a cursor or pull vector may carry (input-bounds). */
export const MAX_VECTOR_ORIGINS = 1024;
/** Machines a cluster may have: each adds at most LIVE_INCARNATIONS x MAX_WRITER_SLOTS origins and a marker to a vector. */
export const MAX_MACHINES = Math.floor(MAX_VECTOR_ORIGINS / (LIVE_INCARNATIONS * MAX_WRITER_SLOTS + 1));

export interface OriginParts {
  machine: string;
  incarnation: string;
  slot: number;
}

const WRITER_ORIGIN = /^([a-z0-9][a-z0-9_-]{0,15})\.([A-Za-z0-9_-]{1,16})\.w(0|[1-9][0-9]{0,2})$/;

export function writerOrigin(machine: string, incarnation: string, slot: number): string {
  return `${machine}.${incarnation}.w${slot}`;
}

/** The parts of a writer origin, or null for any other text. */
export function originParts(origin: string): OriginParts | null {
  const m = WRITER_ORIGIN.exec(origin);
  return m ? { machine: m[1], incarnation: m[2], slot: Number(m[3]) } : null;
}

/** The machine an origin belongs to: "m1.3fa2c1.w0" -> "m1". */
export function machineOfOrigin(origin: string): string {
  const dot = origin.indexOf('.');
  return dot < 0 ? origin : origin.slice(0, dot);
}

/** "m1.3fa2c1.w0" -> "m1.3fa2c1". */
export function incarnationOfOrigin(origin: string): string {
  return origin.slice(0, origin.lastIndexOf('.'));
}

/** Null if a peer's event may come from `origin` in a cluster of `machines`; else why not (one line). */
export function originError(origin: string, machines: ReadonlySet<string>): string | null {
  const p = originParts(origin);
  if (!p) return `origin '${origin}' is not <machine>.<incarnation>.w<slot>`;
  if (!machines.has(p.machine)) return `origin '${origin}' names no machine of this cluster`;
  if (p.slot >= MAX_WRITER_SLOTS) return `origin '${origin}': writer slot ${p.slot}, at most ${MAX_WRITER_SLOTS - 1}`;
  return null;
}

/** Why a new incarnation's events wait: the start of the reason IncarnationGate gives. */
export const INCARNATION_CAP_REASON = 'too many live incarnations';

/**
 * Which incarnations a machine stores events of, for one batch from a peer: those
 * it holds already, retired ones, and new ones while their machine has fewer than
 * LIVE_INCARNATIONS not yet retired here. A new one past them waits (a peer offers
 * it again) until a retirement makes room.
 */
export class IncarnationGate {
  private readonly live = new Map<string, Set<string>>();

  /** `origins`: those the machine holds; `isRetired(incarnation)`: whether a retirement retired it. */
  constructor(origins: Iterable<string>, private readonly isRetired: (incarnation: string) => boolean) {
    for (const origin of origins) {
      const inc = incarnationOfOrigin(origin);
      if (!isRetired(inc)) this.liveOf(machineOfOrigin(origin)).add(inc);
    }
  }

  /** Null if events of `origin` (a well-formed one) may be stored; else why they wait. */
  admit(origin: string): string | null {
    const inc = incarnationOfOrigin(origin);
    const machine = machineOfOrigin(origin);
    const known = this.liveOf(machine);
    if (known.has(inc) || this.isRetired(inc)) return null;
    if (known.size >= LIVE_INCARNATIONS) return `${INCARNATION_CAP_REASON}: ${machine} has ${known.size} incarnations here not yet retired, the most admitted`;
    known.add(inc);
    return null;
  }

  private liveOf(machine: string): Set<string> {
    let s = this.live.get(machine);
    if (!s) this.live.set(machine, (s = new Set()));
    return s;
  }
}
