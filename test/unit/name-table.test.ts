/**
 * The name table shared by the follow graph, the room directory and the file
 * offsets: stable dense ids, one string per name, and its checkpoint block.
 */
import t from 'tap';
import { decodeNames, encodeNames, NameTable } from '../../lib/core/name-table';
import { NameNumbers } from '../../lib/core/name-numbers';
import { RoomDirectory } from '../../lib/core/room-directory';

t.test('names get dense ids in order, and keep them', async (t) => {
  const table = new NameTable();
  t.same(['ann', 'bob', 'ann', 'cat'].map((n) => table.intern(n)), [0, 1, 0, 2]);
  t.equal(table.size, 3);
  t.equal(table.id('bob'), 1);
  t.equal(table.id('dan'), undefined, 'looking up adds nothing');
  t.equal(table.size, 3);
  t.equal(table.name(2), 'cat');
  t.same(table.slice(2), ['ann', 'bob']);
  const copy = 'b' + 'ob'.repeat(1);
  t.equal(table.canonical(copy), table.name(1), "canonical gives the table's own string");
  t.throws(() => new NameTable(['ann', 'ann']), /appears twice/);
});

t.test('a block of names decodes back to the same names, and a wrong count is refused', async (t) => {
  const names = Array.from({ length: 1000 }, (_, i) => `user_${i}.x-${'é'.repeat(i % 3)}`);
  t.same(decodeNames(encodeNames(names), names.length), names);
  t.same(decodeNames(encodeNames([]), 0), []);
  t.same(decodeNames(encodeNames(['a']), 1), ['a']);
  t.throws(() => decodeNames(encodeNames(names), 999), /holds 1000 names, not 999/);
  t.throws(() => decodeNames(Buffer.from('x'), 0), /not 0/);
  t.throws(() => encodeNames(['a\nb']), /newline/);
});

t.test("room offsets are per id of the shared table; a room not read is at 0", async (t) => {
  const table = new NameTable(['ann', 'bob']);
  const offsets = new NameNumbers(table, Float64Array.from([10, 0]));
  t.equal(offsets.get('ann'), 10);
  t.equal(offsets.get('bob'), 0);
  t.equal(offsets.get('zed'), 0, 'unknown room');
  t.equal(table.size, 2, 'reading adds no name');
  for (let i = 0; i < 100; i++) offsets.set(`u${i}`, i + 1);
  t.equal(offsets.get('u99'), 100, 'grows past its first array');
  t.equal(table.id('u99'), 101, 'setting interns the room in the shared table');
  t.equal(offsets.size, 101, 'rooms read past their start');
  const snap = offsets.snapshot(3);
  t.same([...snap], [10, 0, 1]);
  snap[0] = 5;
  t.equal(offsets.get('ann'), 10, 'a snapshot is a copy');
  t.same([...new NameNumbers(new NameTable(['a', 'b', 'c'])).snapshot()], [0, 0, 0], 'snapshot covers names it never set');
});

t.test('a directory from sorted names takes them as they are; unsorted ones are sorted', async (t) => {
  const sorted = ['ann', 'bob', 'cat'];
  t.same([...RoomDirectory.fromSorted(sorted).names('')], sorted);
  t.same([...RoomDirectory.fromSorted(['bob', 'ann', 'bob']).names('')], ['ann', 'bob'], 'out of order or repeated: sorted and deduplicated');
  const dir = RoomDirectory.fromSorted([...sorted]);
  dir.add('bea');
  t.ok(dir.has('bea') && dir.has('cat'));
});
