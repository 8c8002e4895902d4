/** Version vectors: what a reader has, carried over the wire as a record. */
import t from 'tap';
import { advance, covers, vectorFromRecord, vectorToRecord, type VersionVector } from '../../lib/core/version-vector';

t.test('advance only raises an origin’s seq', async (t) => {
  const v: VersionVector = new Map();
  advance(v, 'm1.w0', 3);
  advance(v, 'm1.w0', 2);
  advance(v, 'm2.w0', 1);
  t.same([...v].sort(), [['m1.w0', 3], ['m2.w0', 1]]);
});

t.test('covers says whether an event is already had', async (t) => {
  const v = new Map([['m1.w0', 3]]);
  t.ok(covers(v, 'm1.w0', 1));
  t.ok(covers(v, 'm1.w0', 3));
  t.notOk(covers(v, 'm1.w0', 4));
  t.notOk(covers(v, 'm2.w0', 1), 'an unknown origin has nothing');
});

t.test('a vector round-trips through its wire record, with origins sorted', async (t) => {
  const v = new Map([['m2.w1', 9], ['m1.w0', 4]]);
  const rec = vectorToRecord(v);
  t.same(Object.keys(rec), ['m1.w0', 'm2.w1'], 'sorted keys, so equal vectors serialise equally');
  t.same([...vectorFromRecord(rec)].sort(), [...v].sort());
});

t.test('vectorFromRecord drops entries that are not positive safe integers', async (t) => {
  const v = vectorFromRecord({ a: 3, b: '7', c: 0, d: -1, e: 1.5, f: 'x', g: 2 ** 60 });
  t.same([...v].sort(), [['a', 3], ['b', 7]], 'numeric strings (64-bit ints from the wire) are read');
  t.same([...vectorFromRecord(null)], []);
  t.same([...vectorFromRecord(undefined)], []);
});
