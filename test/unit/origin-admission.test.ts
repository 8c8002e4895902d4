/**
 * A peer cannot push the origin count past what cursors accept (issue 18.5). A
 * machine stores events of at most MAX_OPEN_ORIGINS origins of a machine that its
 * compacted vector names, whichever link brings them, whatever events and
 * retirements peers send: machines that got the same events by different links take
 * the same origins; forged retirements keep origins open, they add none, and they
 * stop no honest writer; a flood of another machine's origins holds back that
 * machine's rebuilt writers only until its retirement. An honest machine rebuilt
 * from nothing takes every origin of a cluster rebuilt 1,000 times.
 */
import fc from 'fast-check';
import t from 'tap';
import { OPEN_ORIGINS_REASON, OriginGate } from '../../lib/core/origin-admission';
import { MARKER_SUFFIX, retirementError, Retirements, type Retirement } from '../../lib/core/retirements';
import { machineOfOrigin, MAX_OPEN_ORIGINS, MAX_VECTOR_ORIGINS, originError, writerOrigin } from '../../lib/core/origins';
import type { VersionVector } from '../../lib/core/version-vector';

const MACHINES = new Set(['m1', 'm2', 'm3']);
const inc = (n: number): string => n.toString(16).padStart(6, '0');

/** A machine's replicator in miniature: the vector it applied and the retirements it knows. */
class Receiver {
  vector: VersionVector = new Map();
  table = new Retirements();

  /** One batch from the link to `peer` (the link does not change what is admitted), through a gate as the peer link builds it; returns the refusals. */
  batch(_peer: string, events: [origin: string, seq: number][]): string[] {
    const gate = new OriginGate(this.vector, this.vector.keys(), this.table);
    const refused: string[] = [];
    for (const [origin, seq] of events) {
      const bad = gate.admit(origin, seq);
      if (bad) refused.push(bad);
      else if (seq === (this.vector.get(origin) ?? 0) + 1) this.vector.set(origin, seq);
    }
    return refused;
  }

  retire(r: Retirement): void {
    if (retirementError(r, MACHINES) === null && this.table.refusal(r) === null) this.table.add(r);
  }

  /** Entries of `machine` a cursor or pull vector from here names. */
  named(machine: string): number {
    return [...this.table.compact(this.vector).keys()].filter((o) => machineOfOrigin(o) === machine).length;
  }
}

/** Event 1 of each of `n` incarnations of `machine`. */
const flood = (machine: string, n: number, first = 1): [string, number][] => Array.from({ length: n }, (_, i) => [writerOrigin(machine, inc(first + i), 0), 1]);

t.test("a peer's event comes from a writer origin of one of the cluster's machines", async (t) => {
  t.equal(originError('m2.3fa2c1.w0', MACHINES), null);
  t.match(originError('m9.3fa2c1.w0', MACHINES), /names no machine of this cluster/);
  t.match(originError('m2.3fa2c1.w16', MACHINES), /writer slot 16, at most 15/);
  t.match(originError('m2.replicator', MACHINES), /is not <machine>.<incarnation>.w<slot>/);
  t.match(originError('m2.a.b.w0', MACHINES), /is not/);
});

t.test('a peer serving 1,100 origins of its own machine gets MAX_OPEN_ORIGINS of them stored', async (t) => {
  const r = new Receiver();
  const refused = r.batch('m3', flood('m3', 1100));
  t.equal(r.vector.size, MAX_OPEN_ORIGINS, `${r.vector.size} of 1,100 stored`);
  t.equal(refused.length, 1100 - MAX_OPEN_ORIGINS);
  t.match(refused[0], new RegExp(`^${OPEN_ORIGINS_REASON} of m3: ${MAX_OPEN_ORIGINS} here that no retirement covers, at most ${MAX_OPEN_ORIGINS}$`));
  t.same(r.batch('m3', flood('m3', 1100)).length, 1100 - MAX_OPEN_ORIGINS, 'offered again, refused again');
  t.same(r.batch('m3', [[writerOrigin('m3', inc(1), 0), 2]]), [], 'a stored origin goes on');
  t.same(r.batch('m1', [[writerOrigin('m1', 'aaaaaa', 0), 1]]), [], "other machines' origins count apart");
});

t.test("machines that got a machine's origins by different links take the same ones", async (t) => {
  // The faulty peer m3 serves 100 origins; m1 takes them from m3, m2 gets what m1 took relayed, then m3's own offer.
  const served = flood('m3', 100);
  const m1 = new Receiver();
  const m2 = new Receiver();
  m1.batch('m3', served);
  m2.batch('m1', served.filter(([o]) => m1.vector.has(o)));
  t.equal(m2.named('m3'), MAX_OPEN_ORIGINS, `all ${MAX_OPEN_ORIGINS} of m3's origins taken from m1's relay (a room per link took half)`);
  m2.batch('m3', served);
  t.same([...m2.vector.keys()].sort(), [...m1.vector.keys()].sort(), 'the same origins on both');
  const m3 = new Receiver(); // a third whose own link delivered only part, before the rest came relayed
  m3.batch('m3', served.slice(0, 20));
  m3.batch('m2', served.filter(([o]) => m2.vector.has(o)));
  t.same([...m3.vector.keys()].sort(), [...m1.vector.keys()].sort(), 'and on one whose own link broke part way');
});

t.test("an equivocating peer splits only its own excess origins: honest machines' origins still get in", async (t) => {
  // The stolen m3 serves m1 its origins 1..100 and m2 its origins 101..200, each first.
  const m1 = new Receiver();
  const m2 = new Receiver();
  m1.batch('m3', flood('m3', 100, 1));
  m2.batch('m3', flood('m3', 100, 101));
  m1.batch('m2', flood('m3', 100, 101));
  m2.batch('m1', flood('m3', 100, 1));
  t.equal(m1.named('m3'), MAX_OPEN_ORIGINS);
  t.notSame([...m1.vector.keys()].sort(), [...m2.vector.keys()].sort(), "each keeps the subset of m3's that came first (documented in docs/security.md)");
  const honest: [string, number][] = [[writerOrigin('m1', 'aaaaaa', 0), 1], [writerOrigin('m2', 'bbbbbb', 0), 1], [writerOrigin('m2', 'bbbbbb', 1), 1]];
  t.same([m1.batch('m2', honest), m2.batch('m1', honest)], [[], []], "m1's and m2's own writers are taken on both");
});

t.test("a peer flooding another machine's origins holds back that machine's rebuilt writers only until its retirement", async (t) => {
  const r = new Receiver();
  const m1 = new Receiver(); // m1 itself, offered the same flood by the same peer
  const live = writerOrigin('m1', 'aaaaaa', 0);
  for (const x of [r, m1]) x.batch('m1', [[live, 1]]);
  r.batch('m3', flood('m1', 1100));
  m1.batch('m3', flood('m1', 1100));
  t.equal(r.named('m1'), MAX_OPEN_ORIGINS, `m1's room full of ${MAX_OPEN_ORIGINS - 1} forged origins beside its live writer`);
  t.same(r.batch('m1', [[live, 2]]), [], "m1's live writer goes on");
  const rebuilt: [string, number][] = [[writerOrigin('m1', 'c0ffee', 0), 1], [writerOrigin('m1', 'c0ffee', 1), 1]];
  t.equal(r.batch('m1', rebuilt).length, 2, "m1's rebuilt incarnation waits for room");
  // m1's rebuilt replicator, caught up, retires every older origin it holds: the forged ones too.
  m1.vector.set(live, 2);
  const retirement = m1.table.declare('m1', 'c0ffee', m1.vector, () => true);
  t.ok(retirement, `m1 declares ${Object.keys(retirement?.origins ?? {}).length} older origins retired`);
  r.retire(retirement!);
  t.same(r.batch('m1', rebuilt), [], 'then its new writers get in');
  t.equal(r.named('m1'), 3, 'a marker and the two new writers');
});

t.test('forged retirements keep origins open, they add none', async (t) => {
  const forks = new Receiver(); // 1,100 retirements, one per flood origin, none following another
  for (const [origin] of flood('m3', 1100)) forks.retire({ by: `m3.f${origin.split('.')[1]}`, prev: '', origins: { [origin]: 1 } });
  forks.batch('m3', flood('m3', 1100));
  t.ok(forks.named('m3') <= MAX_OPEN_ORIGINS + 1, `a cursor names ${forks.named('m3')} entries of m3`);

  const chain = new Receiver(); // one chain retiring every flood origin at seq 1; then the peer sends seq 2 of each
  let prev = '';
  for (const [origin] of flood('m3', 1100)) {
    const by = `m3.f${origin.split('.')[1]}`;
    chain.retire({ by, prev, origins: { [origin]: 1 } });
    prev = by;
  }
  chain.batch('m3', flood('m3', 1100));
  t.equal(chain.named('m3'), 1, 'all 1,100 held at their final seq: one marker');
  chain.batch('m3', flood('m3', 1100).map(([o]) => [o, 2]));
  t.ok(chain.named('m3') <= MAX_OPEN_ORIGINS + 1, `past their final seqs, at most ${MAX_OPEN_ORIGINS} open again (${chain.named('m3')} entries)`);
});

t.test("a forged retirement of a live writer stops none of its events", async (t) => {
  const r = new Receiver();
  const live = writerOrigin('m1', 'aaaaaa', 0);
  r.batch('m1', [[live, 1], [live, 2], [live, 3]]);
  r.retire({ by: 'm1.bbbbbb', prev: '', origins: { [live]: 3 } });
  t.same(r.batch('m1', [[live, 4]]), [], 'past the forged final seq, from its own link');
  t.same(r.batch('m3', [[live, 5]]), [], 'and relayed');
  t.equal(r.vector.get(live), 5);
});

t.test('whatever a faulty peer sends, a vector from here stays within what cursors accept', async () => {
  const origin = fc.tuple(fc.constantFrom('m1', 'm2', 'm3'), fc.integer({ min: 1, max: 400 }), fc.integer({ min: 0, max: 15 })).map(([m, i, w]) => writerOrigin(m, inc(i), w));
  const step = fc.oneof(
    fc.record({ peer: fc.constantFrom('m1', 'm2', 'm3'), events: fc.array(fc.tuple(origin, fc.integer({ min: 1, max: 3 })), { maxLength: 300 }) }),
    fc.record({ by: fc.integer({ min: 1, max: 400 }), prev: fc.integer({ min: 0, max: 400 }), origins: fc.dictionary(origin, fc.integer({ min: 1, max: 3 }), { minKeys: 1, maxKeys: 64 }) }),
  );
  fc.assert(
    fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
      const r = new Receiver();
      for (const s of steps) {
        if ('peer' in s) r.batch(s.peer, s.events);
        else for (const m of MACHINES) r.retire({ by: `${m}.${inc(s.by)}`, prev: s.prev ? `${m}.${inc(s.prev)}` : '', origins: Object.fromEntries(Object.entries(s.origins).filter(([o]) => o.startsWith(`${m}.`))) });
        const wire = r.table.compact(r.vector);
        for (const m of MACHINES) if (r.named(m) > MAX_OPEN_ORIGINS + 1) return false;
        if ([...wire.keys()].filter((o) => o.endsWith(MARKER_SUFFIX)).length > MACHINES.size || wire.size > MAX_VECTOR_ORIGINS) return false;
      }
      return true;
    }),
    { numRuns: 200, seed: 18_5 },
  );
});

t.test('a machine rebuilt from nothing takes every origin of a cluster rebuilt 1,000 times, from any peer', async (t) => {
  // The history: each rebuild of a machine adds 2 writers and retires the older ones.
  const table = new Retirements();
  const history: [string, number][] = [];
  const current = new Map<string, string>();
  for (let n = 1; n <= 1003; n++) {
    const m = [...MACHINES][n % 3];
    current.set(m, inc(n));
    for (let w = 0; w < 2; w++) for (let seq = 1; seq <= 3; seq++) history.push([writerOrigin(m, inc(n), w), seq]);
    const held: VersionVector = new Map(history.map(([o]) => [o, 3]));
    const r = table.declare(m, inc(n), held, () => true);
    if (r) table.add(r);
  }
  const fresh = new Receiver();
  for (const r of table.all()) fresh.retire(r);
  const refused: string[] = [];
  for (let i = 0; i < history.length; i += 500) refused.push(...fresh.batch('m2', history.slice(i, i + 500)));
  t.same(refused, [], `all ${history.length} events of ${new Set(history.map(([o]) => o)).size} origins stored, none held back`);
  t.ok(fresh.table.compact(fresh.vector).size <= 9, `its vector on the wire: ${fresh.table.compact(fresh.vector).size} entries`);
});
