/**
 * Honest rebuilds do not grow vectors (issue 18.5): a rebuilt machine retires its
 * older incarnations' origins, and vectors on the wire carry one marker per machine
 * in their place. Compaction is exact: read back, a compacted vector is the vector,
 * after any number of rebuilds; a reader that lacks a retirement sends again rather
 * than skip. (What a faulty peer can do is origin-admission.test.ts.)
 */
import t from 'tap';
import { MAX_VECTOR_ORIGINS, writerOrigin } from '../../lib/core/origins';
import { MARKER_SUFFIX, MAX_RETIRED_ORIGINS, retirementError, Retirements } from '../../lib/core/retirements';
import type { VersionVector } from '../../lib/core/version-vector';

const MACHINES = new Set(['m1', 'm2', 'm3']);
const WORKERS = 2;
const inc = (n: number): string => n.toString(16).padStart(6, '0');

/** A cluster rebuilt `rebuilds` times, machine after machine, each new incarnation retiring the older ones once caught up. */
function rebuiltCluster(rebuilds: number) {
  const table = new Retirements();
  const vector: VersionVector = new Map();
  const current = new Map<string, string>();
  const write = (machine: string): void => {
    for (let w = 0; w < WORKERS; w++) vector.set(writerOrigin(machine, current.get(machine)!, w), 10 + w);
  };
  let n = 0;
  for (const m of MACHINES) {
    current.set(m, inc(++n));
    write(m);
  }
  const snapshots: { after: number; vector: VersionVector; compacted: VersionVector }[] = [];
  for (let r = 0; r < rebuilds; r++) {
    const m = [...MACHINES][r % MACHINES.size];
    current.set(m, inc(++n));
    write(m);
    const declared = table.declare(m, current.get(m)!, vector, () => true);
    if (declared) table.add(declared);
    if (r % 100 === 0) snapshots.push({ after: r, vector: new Map(vector), compacted: table.compact(vector) });
  }
  return { table, vector, snapshots };
}

t.test('a cluster rebuilt 1,000 times: vectors stay small, and read back exactly', async (t) => {
  const { table, vector, snapshots } = rebuiltCluster(1000);
  t.equal(vector.size, (1000 + MACHINES.size) * WORKERS, `the index holds ${vector.size} origins`);
  const compacted = table.compact(vector);
  t.equal(compacted.size, MACHINES.size * WORKERS + MACHINES.size, `on the wire: ${compacted.size} entries (the live writers and a marker per machine)`);
  t.ok(compacted.size <= MAX_VECTOR_ORIGINS);
  t.same(table.expand(compacted), vector, 'read back, it is the vector');
  for (const s of snapshots) t.same(table.expand(s.compacted), s.vector, `a cursor from after rebuild ${s.after} still reads back exactly`);
});

t.test('only origins at exactly their final seq are left out', async (t) => {
  const { table, vector } = rebuiltCluster(10);
  const oldOrigin = [...vector.keys()].find((o) => table.finalSeq(o) !== undefined)!;
  const behind = new Map(vector);
  behind.set(oldOrigin, 3); // a reader that has not had all of a retired origin yet
  const c = table.compact(behind);
  t.equal(c.get(oldOrigin), 3, 'an origin behind its final seq stays in the vector');
  t.same(table.expand(c), behind, 'and reads back as it was');
  const lacking = new Map(vector);
  lacking.delete(oldOrigin); // a reader that never had any of it
  t.same(table.expand(table.compact(lacking)), lacking, 'a vector lacking a retired origin does not come back covering it');
});

t.test('a reader that does not know a retirement reads its origins as absent: it sends them again, it skips nothing', async (t) => {
  const { table, vector } = rebuiltCluster(3);
  const c = table.compact(vector);
  const marker = [...c.keys()].find((k) => k.endsWith(MARKER_SUFFIX))!;
  const stranger = new Retirements(); // has heard of no retirement
  const read = stranger.expand(c);
  t.notOk(read.has(marker), 'the unknown marker is dropped');
  for (const [origin, seq] of read) t.equal(seq, vector.get(origin), `${origin} as it was`);
  t.ok(read.size < vector.size, 'the retired origins read as absent');
});

t.test("a retirement from outside is checked: its machine, its older origins of that machine, sane seqs", async (t) => {
  const ok = { by: 'm2.00000b', prev: '', origins: { 'm2.00000a.w0': 5 } };
  t.equal(retirementError(ok, MACHINES), null);
  t.match(retirementError({ ...ok, by: 'm9.00000b' }, MACHINES), /no incarnation of a machine of this cluster/);
  t.match(retirementError({ ...ok, origins: { 'm1.00000a.w0': 5 } }, MACHINES), /no older origin of m2/);
  t.match(retirementError({ ...ok, origins: { 'm2.00000b.w0': 5 } }, MACHINES), /no older origin of m2/, 'not its own');
  t.match(retirementError({ ...ok, origins: { 'm2.00000a.w0': -1 } }, MACHINES), /bad final seq/);
  t.match(retirementError({ ...ok, origins: {} }, MACHINES), /0 origins/);
  t.match(retirementError({ ...ok, prev: 'm1.000001' }, MACHINES), /bad prev/);
  t.match(retirementError('x', MACHINES), /not a retirement/);
});

t.test('a machine declares nothing while one of its older origins waits for a seq', async (t) => {
  const table = new Retirements();
  const vector: VersionVector = new Map([['m2.00000a.w0', 5], ['m2.00000a.w1', 7], ['m2.00000b.w0', 1]]);
  t.equal(table.declare('m2', '00000b', vector, (o) => o !== 'm2.00000a.w1'), null, 'a hole in w1: wait');
  const r = table.declare('m2', '00000b', vector, () => true);
  t.same(r, { by: 'm2.00000b', prev: '', origins: { 'm2.00000a.w0': 5, 'm2.00000a.w1': 7 } }, 'then both, at the seqs held');
  table.add(r!);
  t.equal(table.declare('m2', '00000b', vector, () => true), null, 'once');
});

t.test('a retirement that retires an origin again, or overfills the table, is refused', async (t) => {
  const table = new Retirements([{ by: 'm2.00000b', prev: '', origins: { 'm2.00000a.w0': 5 } }]);
  t.match(table.refusal({ by: 'm2.00000c', prev: '', origins: { 'm2.00000a.w0': 6 } }), /m2.00000a.w0 was retired at seq 5, not 6/);
  t.match(table.refusal({ by: 'm2.00000c', prev: 'm2.00000b', origins: { 'm2.00000a.w0': 5, 'm2.00000b.w0': 3 } }), /m2.00000a.w0 was retired already, by m2.00000b/, 'an origin is retired once');
  const full = new Retirements();
  for (let i = 0; full.refusal({ by: `m1.f${i}`, prev: '', origins: { [`m1.o${i}.w0`]: 1 } }) === null; i++) full.add({ by: `m1.f${i}`, prev: '', origins: { [`m1.o${i}.w0`]: 1 } });
  t.equal(full.all().length, MAX_RETIRED_ORIGINS, `at most ${MAX_RETIRED_ORIGINS} origins retired in all`);
});

t.test('a machine builds its retirement on the chain it holds, passing over a forged one', async (t) => {
  const honest = { by: 'm2.00000b', prev: '', origins: { 'm2.00000a.w0': 5 } };
  const forged = { by: 'm2.eeeeee', prev: 'm2.00000b', origins: { 'm2.dddddd.w0': 9 } };
  const table = new Retirements([honest, forged]);
  const vector: VersionVector = new Map([['m2.00000a.w0', 5], ['m2.00000b.w0', 4], ['m2.00000c.w0', 1]]);
  t.same(table.declare('m2', '00000c', vector, () => true), { by: 'm2.00000c', prev: 'm2.00000b', origins: { 'm2.00000b.w0': 4 } });
  t.same([...table.compact(vector).keys()].sort(), ['m2.00000b.retired', 'm2.00000b.w0', 'm2.00000c.w0'], 'and compaction uses the held chain as far as it goes');
});

t.test('a forged tree of 20,000 retirements is read in one pass: no chain is walked per branch', async (t) => {
  const table = new Retirements();
  const vector: VersionVector = new Map();
  for (let i = 1; i <= 10_000; i++) {
    table.add({ by: `m3.c${i}`, prev: i > 1 ? `m3.c${i - 1}` : '', origins: { [`m3.c${i - 1}.w0`]: 1 } });
    table.add({ by: `m3.l${i}`, prev: `m3.c${i}`, origins: { [`m3.l${i}.w0`]: 1 } }); // a branch off each link
    vector.set(`m3.c${i - 1}.w0`, 1);
  }
  vector.set('m3.l10000.w0', 1);
  const c = table.compact(vector);
  t.same([...c.keys()], ['m3.l10000.retired'], 'the branch that leaves out most: one marker for 10,001 origins');
  t.same(table.expand(c), vector, 'read back exactly');
});
