/**
 * The plan of a commit (lib/core/commit-plan), pure: the bytes each room file gets
 * at its end (each line once, newline-ended), where every line will lie, its
 * origin-index record, and what the doorbell tells the other readers.
 */
import t from 'tap';
import { eventToLine } from '../../lib/core/event';
import { commitNews, indexRecordOf, planCommit } from '../../lib/core/commit-plan';
import { nameHash } from '../../lib/core/index-record';
import { parseRoomLog } from '../../lib/core/room-log';
import { ev } from '../helpers/events';

t.test('each room gets its lines at its end, and every line lies where the plan says', async (t) => {
  const ann = [ev({ origin: 'w0', seq: 1, room: 'ann', author: 'ann', text: 'héllo 👋' }), ev({ origin: 'w0', seq: 3, room: 'ann', author: 'ann' })];
  const bob = [ev({ origin: 'w0', seq: 2, room: 'bob', author: 'bob' })];
  const plan = planCommit([{ room: 'ann', end: 100, events: ann }, { room: 'cat', end: 7, events: [] }, { room: 'bob', end: 0, events: bob }]);
  t.same(plan.appends.map((a) => [a.room, a.offset]), [['ann', 100], ['bob', 0]], 'one append per room with lines, at its end');
  t.equal(plan.appends[0].data.toString(), `${eventToLine(ann[0])}\n${eventToLine(ann[1])}\n`, 'the lines, newline-ended');
  t.same(plan.stored.map((s) => s.event), [...ann, ...bob], 'every event, in the order written');
  for (const s of plan.stored) {
    const a = plan.appends.find((x) => x.room === s.event.room)!;
    const line = a.data.subarray(s.offset - a.offset, s.offset - a.offset + s.length);
    t.same(parseRoomLog(Buffer.concat([line, Buffer.from('\n')])).events, [s.event], `${s.event.room}#${s.event.seq}: its offset and byte length (multibyte text) place its line`);
    t.equal(a.data[s.offset - a.offset + s.length], 0x0a, 'followed by its newline');
  }
});

t.test("a peer's shipped line is appended as it came, not encoded again", async (t) => {
  const e = ev({ origin: 'w0', seq: 1, room: 'ann', author: 'ann', text: 'é' });
  const other = ev({ origin: 'w0', seq: 2, room: 'ann', author: 'ann' });
  // The same event with its text escaped: it reads back the same, but its bytes are not eventToLine's.
  const shipped = Buffer.from(eventToLine(e).replace('"é"', '"\\u00e9"'));
  const plan = planCommit([{ room: 'ann', end: 5, events: [e, other] }], new Map([[e, shipped]]));
  t.equal(plan.appends[0].data.toString(), `${shipped.toString()}\n${eventToLine(other)}\n`, 'the shipped bytes, then the encoded line');
  t.same(plan.stored.map((s) => [s.offset, s.length]), [[5, shipped.length], [5 + shipped.length + 1, Buffer.byteLength(eventToLine(other))]], 'each placed by its own length');
  t.same(parseRoomLog(plan.appends[0].data).events, [e, other], 'and both read back as the events planned');
});

t.test("a stored line's index record, and the commit's news for the other readers", async (t) => {
  const e = ev({ origin: 'w1', seq: 5, kind: 'join', room: 'bob', author: 'ann', text: '', hlc: { wall: 42, logical: 3 } });
  t.same(indexRecordOf({ event: e, offset: 10, length: 20 }), { room: 'bob', offset: 10, length: 20, kind: 'join', wall: 42, logical: 3, authorHash: nameHash('ann') });
  const plan = planCommit([
    { room: 'ann', end: 0, events: [ev({ origin: 'w0', seq: 1, room: 'ann', author: 'ann' }), ev({ origin: 'w1', seq: 9, room: 'ann', author: 'ann' })] },
    { room: 'bob', end: 0, events: [ev({ origin: 'w0', seq: 2, room: 'bob', author: 'bob' })] },
  ]);
  t.same(commitNews(plan.stored), { rooms: ['ann', 'bob'], upTo: { w0: 2, w1: 9 } }, 'the rooms written and the top seq per origin');
});
