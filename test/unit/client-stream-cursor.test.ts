/** The chat feed's cursor: resume without gap or duplicate, print each event once. */
import t from 'tap';
import { StreamCursor } from '../../lib/client/stream-cursor';

const e = (id: string, origin: string, seq: number) => ({ id, origin, seq });

t.test('the cursor starts at the timeline cursor and advances per origin with each streamed event', async (t) => {
  const c = new StreamCursor({ 'm1.w0': 4 });
  t.equal(c.fromStream(e('a', 'm1.w0', 5)), true);
  t.equal(c.fromStream(e('b', 'm2.w1', 1)), true);
  t.same(c.toRecord(), { 'm1.w0': 5, 'm2.w1': 1 });
});

t.test('an event the cursor already covers is not printed again (resumed on a server that was behind)', async (t) => {
  const c = new StreamCursor({ 'm1.w0': 4 });
  t.equal(c.fromStream(e('old', 'm1.w0', 3)), false);
  t.equal(c.fromStream(e('new', 'm1.w0', 5)), true);
  t.equal(c.fromStream(e('new', 'm1.w0', 5)), false);
  t.same(c.toRecord(), { 'm1.w0': 5 });
});

t.test('an own post is printed once, whether the ack or the stream comes first', async (t) => {
  const ackFirst = new StreamCursor();
  t.equal(ackFirst.fromElsewhere(e('p', 'm1.w1', 7)), true);
  t.equal(ackFirst.fromStream(e('p', 'm1.w1', 7)), false);
  t.same(ackFirst.toRecord(), { 'm1.w1': 7 }, 'the stream still advances the cursor');

  const streamFirst = new StreamCursor();
  t.equal(streamFirst.fromStream(e('p', 'm1.w1', 7)), true);
  t.equal(streamFirst.fromElsewhere(e('p', 'm1.w1', 7)), false);
});

t.test('an ack does not move the cursor past events the stream still owes', async (t) => {
  const c = new StreamCursor({ 'm1.w1': 5 });
  t.equal(c.fromElsewhere(e('mine', 'm1.w1', 7)), true);
  t.same(c.toRecord(), { 'm1.w1': 5 });
  t.equal(c.fromStream(e('theirs', 'm1.w1', 6)), true, 'seq 6 from another user is still printed');
});

t.test('history events are printed once and leave the cursor alone', async (t) => {
  const c = new StreamCursor({ 'm1.w0': 9 });
  t.equal(c.fromElsewhere(e('h1', 'm1.w0', 2)), true);
  t.equal(c.fromElsewhere(e('h1', 'm1.w0', 2)), false);
  t.same(c.toRecord(), { 'm1.w0': 9 });
});
