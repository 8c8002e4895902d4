/**
 * Which replicated events a commit appends: each origin's next missing seqs in
 * order; what is here is skipped, what lies past a missing seq is refused.
 */
import t from 'tap';
import fc from 'fast-check';
import { admitReplicated, type Holdings } from '../../lib/core/replicated-admission';
import { ev } from '../helpers/events';

/** Holdings of seqs 1..applied per origin, plus `past` (stored past a hole). */
function holdings(applied: Record<string, number>, past: Record<string, number[]> = {}): Holdings {
  return {
    seqOf: (o) => applied[o] ?? 0,
    has: (o, seq) => seq <= (applied[o] ?? 0) || (past[o] ?? []).includes(seq),
  };
}
const slots = (a: { taken: { origin: string; seq: number }[] }) => a.taken.map((e) => `${e.origin}#${e.seq}`);

t.test('the next seqs are taken, what is here skipped, what lies past a gap refused', async (t) => {
  const batch = [1, 2, 3, 4, 6].map((seq) => ev({ origin: 'm2.bb.w0', seq }));
  const [a] = admitReplicated([batch], holdings({ 'm2.bb.w0': 2 }));
  t.same(slots(a), ['m2.bb.w0#3', 'm2.bb.w0#4']);
  t.equal(a.gapped, 1, 'seq 6 waits for 5');
});

t.test('a later batch of the same commit goes on where an earlier one left the origin', async (t) => {
  const [a, b] = admitReplicated([[ev({ origin: 'o', seq: 1 })], [ev({ origin: 'o', seq: 1 }), ev({ origin: 'o', seq: 2 })]], holdings({}));
  t.same([slots(a), slots(b)], [['o#1'], ['o#2']], 'the second batch does not take seq 1 again');
});

t.test('a seq stored past a hole is passed over: the hole is what is taken', async (t) => {
  const [a] = admitReplicated([[3, 4, 5].map((seq) => ev({ origin: 'o', seq }))], holdings({ o: 2 }, { o: [4] }));
  t.same(slots(a), ['o#3', 'o#5']);
  t.equal(a.gapped, 0);
});

t.test('whatever the batches, an origin is taken densely from what is here, each seq once', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.array(fc.record({ origin: fc.constantFrom('a', 'b'), seq: fc.integer({ min: 1, max: 8 }) }), { maxLength: 10 }), { maxLength: 4 }), fc.nat({ max: 3 }), (raw, applied) => {
      const batches = raw.map((b) => b.map((s) => ev(s)));
      const admitted = admitReplicated(batches, holdings({ a: applied, b: 0 }));
      for (const origin of ['a', 'b']) {
        const seqs = admitted.flatMap((x) => x.taken).filter((e) => e.origin === origin).map((e) => e.seq);
        const from = origin === 'a' ? applied : 0;
        t.same(seqs, seqs.map((_, i) => from + i + 1), `${origin}: ${from + 1}, ${from + 2}, ... in order`);
      }
      admitted.forEach((x, i) => t.ok(x.taken.length + x.gapped <= batches[i].length));
    }),
    { numRuns: 300, seed: 13 },
  );
});
