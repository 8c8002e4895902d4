/**
 * How big a cursor or pull vector gets as origins grow (issue 18.5). Pure, no server:
 * the same code the replicator and the workers run (core/retirements,
 * core/origin-admission), at two sizes each.
 * - honest rebuilds: a 3-machine cluster of 2 workers rebuilt N times, each new
 *   incarnation retiring the older ones once caught up: the origins a machine holds,
 *   and the entries and protobuf bytes of a vector on the wire without compaction
 *   (before) and with it, and the time to compact one and to read it back;
 * - a faulty peer serving K origins of its own machine: what a machine stores and
 *   sends without the admission gate (before) and with it.
 */
import { join } from 'node:path';
import * as protobuf from 'protobufjs';
import { REPO_ROOT } from '../lib/common/paths';
import { OriginGate } from '../lib/core/origin-admission';
import { MAX_VECTOR_ORIGINS, writerOrigin } from '../lib/core/origins';
import { Retirements } from '../lib/core/retirements';
import type { VersionVector } from '../lib/core/version-vector';
import type { Figure } from './ab';
import { nowMs, startRun, loadAverageText, type RunHeader } from './stats';

const MACHINES = ['m1', 'm2', 'm3'];
const WORKERS = 2;
/** Events each writer wrote: the seqs' size on the wire. */
const SEQ = 1_000;
const REBUILDS = [100, 1_000];
const FLOODS = [1_100, 11_000];

interface Wire {
  entries: number;
  bytes: number;
}

export interface OriginsResults extends RunHeader {
  rebuilds: { rebuilds: number; origins: number; before: Wire; after: Wire; compactUs: number; expandUs: number }[];
  floods: { served: number; before: Wire; after: Wire; stored: number }[];
}

const inc = (n: number): string => n.toString(16).padStart(6, '0');

function wireSize(v: VersionVector): Wire {
  const type = protobuf.loadSync(join(REPO_ROOT, 'protos', 'ftchat.proto')).lookupType('ftchat.VersionVector');
  return { entries: v.size, bytes: type.encode({ seqs: Object.fromEntries(v) }).finish().length };
}

/** Median µs of `fn` over `runs` calls. */
function timeUs(fn: () => void, runs = 101): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = nowMs();
    fn();
    times.push((nowMs() - t0) * 1000);
  }
  return times.sort((a, b) => a - b)[runs >> 1];
}

function rebuilt(rebuilds: number): OriginsResults['rebuilds'][number] {
  const table = new Retirements();
  const vector: VersionVector = new Map();
  for (let n = 1; n <= MACHINES.length + rebuilds; n++) {
    const machine = MACHINES[n % MACHINES.length];
    for (let w = 0; w < WORKERS; w++) vector.set(writerOrigin(machine, inc(n), w), SEQ);
    const r = table.declare(machine, inc(n), vector, () => true);
    if (r) table.add(r);
  }
  const compacted = table.compact(vector);
  return {
    rebuilds,
    origins: vector.size,
    before: wireSize(vector),
    after: wireSize(compacted),
    compactUs: timeUs(() => table.compact(vector)),
    expandUs: timeUs(() => table.expand(compacted)),
  };
}

function flooded(served: number): OriginsResults['floods'][number] {
  const honest: VersionVector = new Map(MACHINES.flatMap((m) => Array.from({ length: WORKERS }, (_, w): [string, number] => [writerOrigin(m, 'aaaaaa', w), SEQ])));
  const flood = Array.from({ length: served }, (_, i) => writerOrigin('m3', inc(i + 1), 0));
  const before: VersionVector = new Map([...honest, ...flood.map((o): [string, number] => [o, 1])]);
  const after: VersionVector = new Map(honest);
  const table = new Retirements();
  for (let i = 0; i < flood.length; i += 500) {
    const gate = new OriginGate(after, after.keys(), table);
    for (const origin of flood.slice(i, i + 500)) if (gate.admit(origin, 1) === null) after.set(origin, 1);
  }
  return { served, before: wireSize(before), after: wireSize(table.compact(after)), stored: after.size - honest.size };
}

export async function benchOrigins(): Promise<OriginsResults> {
  const header = startRun(WORKERS);
  const rebuilds = REBUILDS.map(rebuilt);
  const floods = FLOODS.map(flooded);
  return { ...header(), rebuilds, floods };
}

const wire = (w: Wire): string => `${w.entries.toLocaleString('en')} entries, ${w.bytes.toLocaleString('en')} B${w.entries > MAX_VECTOR_ORIGINS ? ' (refused: over 1,024)' : ''}`;

export function printOriginsReport(r: OriginsResults): void {
  console.log(`\n## origins: vector size as origins grow (3 machines, ${WORKERS} workers; ${loadAverageText(r)})\n`);
  console.log('| case | origins held | on the wire before (no compaction, no gate) | on the wire now | compact / read back |');
  console.log('|---|---|---|---|---|');
  for (const x of r.rebuilds) console.log(`| rebuilt ${x.rebuilds.toLocaleString('en')} times | ${x.origins.toLocaleString('en')} | ${wire(x.before)} | ${wire(x.after)} | ${x.compactUs.toFixed(0)} / ${x.expandUs.toFixed(0)} µs |`);
  for (const x of r.floods) console.log(`| a peer serving ${x.served.toLocaleString('en')} origins | ${(x.stored + MACHINES.length * WORKERS).toLocaleString('en')} (${x.stored} of the peer's) | ${wire(x.before)} | ${wire(x.after)} | |`);
}

export function originsFigures(r: OriginsResults): Figure[] {
  const most = r.rebuilds[r.rebuilds.length - 1];
  return [
    [`wire entries after ${most.rebuilds} rebuilds`, most.after.entries],
    [`compact µs after ${most.rebuilds} rebuilds`, most.compactUs],
    [`wire entries with ${r.floods[r.floods.length - 1].served} flooded origins`, r.floods[r.floods.length - 1].after.entries],
  ];
}
