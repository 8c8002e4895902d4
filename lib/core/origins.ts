/**
 * What an origin is and how many a cluster may hold. An origin names one writer of
 * one data dir: "<machine>.<incarnation>.w<slot>" (m2.3fa2c1.w0). A machine's data
 * dir gets a new incarnation when it is rebuilt, so honest use adds `workers`
 * origins per rebuild; retired incarnations are compacted out of vectors
 * (retirements.ts). A peer's events are admitted only from origins of a machine
 * of the cluster config with a writer slot below MAX_WRITER_SLOTS, and at most
 * MAX_OPEN_ORIGINS of one machine that no retirement compacts away
 * (origin-admission.ts). So a vector on the wire holds at most machines x
 * MAX_OPEN_ORIGINS origins and one marker per machine, whatever a peer serves. Pure.
 */

/** Writer slots per incarnation (config.workers is at most this). */
export const MAX_WRITER_SLOTS = 16;
/** Incarnations of one machine whose writers a vector may name at once (two in honest use, the old and the new, between a rebuild and its retirement). */
export const LIVE_INCARNATIONS = 4;
/** Origins of one machine a vector may name outside its retired ones (the rest wait until a retirement compacts some away). */
export const MAX_OPEN_ORIGINS = LIVE_INCARNATIONS * MAX_WRITER_SLOTS;
/** What a cursor or pull vector may carry (input-bounds). */
export const MAX_VECTOR_ORIGINS = 1024;
/** Machines a cluster may have: each adds at most MAX_OPEN_ORIGINS origins and a marker to a vector. */
export const MAX_MACHINES = Math.floor(MAX_VECTOR_ORIGINS / (MAX_OPEN_ORIGINS + 1));

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
