/**
 * The checkpoint format: what is written is read back exactly, and a torn or
 * corrupt file is refused as a whole (so the state is rebuilt from the room files).
 */
import t from 'tap';
import { decodeCheckpoint, encodeCheckpoint, headerEnd, headerWal, HEAD_BYTES, type Checkpoint } from '../../lib/core/checkpoint-format';
import { EventIndex } from '../../lib/core/event-index';
import { indexFromSnapshot, snapshotIndex } from '../../lib/core/index-snapshot';
import { createEventId } from '../../lib/core/event';
import { ev, rng } from '../helpers/events';

function sample(): Checkpoint {
  const index = new EventIndex();
  const users = Array.from({ length: 40 }, (_, i) => `user${i}`);
  let seq = 0;
  for (const u of users) index.offer(ev({ origin: 'm1.abc123.w0', seq: ++seq, kind: 'create', id: createEventId(u), room: u, author: u, text: '' }));
  const random = rng(4);
  for (let i = 0; i < 400; i++) {
    const author = users[Math.floor(random() * users.length)];
    const room = users[Math.floor(random() * users.length)];
    index.offer(ev({ origin: 'm1.abc123.w0', seq: ++seq, kind: random() < 0.7 ? 'join' : 'leave', room, author, text: '', hlc: { wall: 5000 + i, logical: i % 3 } }));
  }
  index.offer(ev({ origin: 'm2.def456.w1', seq: 7, text: 'held back, with "quotes" and ünïcödé' }));
  const snap = snapshotIndex(index);
  return { index: snap, clock: { wall: 99_999, logical: 4 }, offsets: Float64Array.from(snap.names, (_, i) => i * 1000 + 0.5 * (i % 2)), wal: { segment: 3, offset: 4_096 } };
}

t.test('a checkpoint reads back exactly as written', async (t) => {
  const c = sample();
  const back = decodeCheckpoint(encodeCheckpoint(c));
  t.same(back.clock, c.clock);
  t.same(back.wal, c.wal, 'the write-ahead log position it covers');
  t.same([...back.offsets], [...c.offsets], 'each name id its offset');
  t.same(back.index.names, c.index.names, 'the name table');
  t.same(back.index.vector, c.index.vector);
  t.same([...back.index.rooms], [...c.index.rooms]);
  t.same(back.index.pending, c.index.pending, 'held-back events, text and all');
  for (const [key, a] of Object.entries(c.index.graph)) t.same([...back.index.graph[key as keyof typeof c.index.graph]], [...a], `the follow graph's ${key}`);
  const restored = indexFromSnapshot(back.index);
  t.same(restored.graph.following('user3'), indexFromSnapshot(c.index).graph.following('user3'));
  t.same([...restored.rooms.names('')], [...indexFromSnapshot(c.index).rooms.names('')]);
});

t.test('the arrays are used in place, wherever the buffer starts', async (t) => {
  const bytes = encodeCheckpoint(sample());
  const inPlace = decodeCheckpoint(bytes);
  t.equal(inPlace.index.graph.wall.buffer, bytes.buffer, 'an aligned buffer: views of it, no copy');
  const shifted = Buffer.alloc(bytes.length + 3).subarray(3);
  bytes.copy(shifted);
  const back = decodeCheckpoint(shifted);
  t.same([...back.index.graph.wall], [...inPlace.index.graph.wall], 'an unaligned one (a pooled buffer) decodes the same');
});

t.test('a checkpoint of version 1 (JSON names and offsets) is refused, so it is rebuilt', async (t) => {
  const v1 = Buffer.concat([Buffer.from('FTCHK1\n'), encodeCheckpoint(sample()).subarray(7)]);
  t.throws(() => decodeCheckpoint(v1), /another version/);
});

t.test('a torn checkpoint is refused, wherever it was cut', async (t) => {
  const bytes = encodeCheckpoint(sample());
  const random = rng(8);
  for (let i = 0; i < 200; i++) {
    const cut = Math.floor(random() * bytes.length);
    t.throws(() => decodeCheckpoint(bytes.subarray(0, cut)), /^checkpoint /, `cut at ${cut} of ${bytes.length}`);
  }
});

t.test('a checkpoint with any byte changed is refused', async (t) => {
  const bytes = encodeCheckpoint(sample());
  const random = rng(9);
  for (let i = 0; i < 200; i++) {
    const at = Math.floor(random() * bytes.length);
    const bad = Buffer.from(bytes);
    bad[at] ^= 1 + Math.floor(random() * 255);
    t.throws(() => decodeCheckpoint(bad), /^checkpoint /, `byte ${at} flipped`);
  }
  t.throws(() => decodeCheckpoint(Buffer.from('not a checkpoint at all')), /no valid header/);
});

t.test('an index restored in place from a checkpoint keeps taking events, growing past its arrays', async (t) => {
  const c = sample();
  const restored = indexFromSnapshot(decodeCheckpoint(encodeCheckpoint(c)).index);
  const direct = indexFromSnapshot(c.index);
  const random = rng(12);
  let seq = 0;
  for (let i = 0; i < 3_000; i++) {
    const author = `new${Math.floor(random() * 200)}`;
    const e = ev({ origin: 'm3.aaa111.w0', seq: ++seq, kind: random() < 0.8 ? 'join' : 'leave', room: `user${Math.floor(random() * 40)}`, author, text: '' });
    restored.offer(e);
    direct.offer(e);
  }
  t.ok(restored.graph.size > c.index.graph.room.length * 2, `the graph grew from ${c.index.graph.room.length} to ${restored.graph.size} pairs`);
  for (const u of ['user3', 'new0', 'new77', 'new199']) t.same(restored.graph.following(u), direct.graph.following(u), `${u} follows the same rooms`);
});

t.test('the log position is read from the header alone, and a checkpoint without one says so', async (t) => {
  const c = sample();
  const buf = encodeCheckpoint(c);
  const end = headerEnd(buf.subarray(0, HEAD_BYTES));
  t.ok(end !== null && end < 1_000, `the header is the first ${end} bytes`);
  t.same(headerWal(buf.subarray(0, end ?? 0)), c.wal, 'its position, without reading the rest');
  t.equal(headerWal(buf.subarray(0, (end ?? 0) - 1)), null, 'a cut header gives none');
  t.equal(headerEnd(Buffer.from('FTCHK1\n\0\0\0\0')), null, 'another version is none');
  const without = decodeCheckpoint(encodeCheckpoint({ ...c, wal: null }));
  t.equal(without.wal, null, 'none written, none read: a load reads every room file');
});
