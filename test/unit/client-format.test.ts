/** What the client prints for events and room lists. */
import t from 'tap';
import { formatEvent, formatRooms, localTime, MORE_ROOMS_HINT } from '../../lib/client/format';

process.env.TZ = 'Europe/Berlin'; // local time, made the same wherever the test runs

const ev = (kind: string, author: string, room: string, text = '') => ({ kind, author, room, text });

t.test('a post is "<author>: <text>"', async (t) => {
  t.equal(formatEvent(ev('post', 'alice', 'alice', 'hello there')), 'alice: hello there');
});

t.test('joins and leaves are "<user> joined <room>" and "<user> left <room>"', async (t) => {
  t.equal(formatEvent(ev('join', 'bob', 'alice')), 'bob joined alice');
  t.equal(formatEvent(ev('leave', 'bob', 'alice')), 'bob left alice');
});

t.test('room creation is not shown', async (t) => {
  t.equal(formatEvent(ev('create', 'alice', 'alice')), null);
});

t.test('control characters from the server cannot reach the terminal', async (t) => {
  t.equal(formatEvent(ev('post', 'eve', 'eve', 'hi\u001b[2Jthere\r')), 'eve: hi?[2Jthere?');
});

t.test('list marks the own room and the followed rooms', async (t) => {
  const rooms = [
    { name: 'alice', own: true, following: true },
    { name: 'bob', own: false, following: true },
    { name: 'carol', own: false, following: false },
  ];
  t.same(formatRooms({ rooms, prefix: '', more: false }), ['* alice (your room)', '* bob (following)', '  carol']);
  t.same(formatRooms({ rooms: [], prefix: '', more: false }), ['no rooms yet']);
});

t.test('a list with more pages says how to see them', async (t) => {
  const rooms = [{ name: 'carol', own: false, following: false }];
  t.same(formatRooms({ rooms, prefix: '', more: true }), ['  carol', MORE_ROOMS_HINT]);
  t.match(MORE_ROOMS_HINT, /type 'more'.*'list <prefix>'/);
});

t.test('a search that finds nothing says what was searched for', async (t) => {
  t.same(formatRooms({ rooms: [], prefix: 'zed', more: false }), ["no rooms start with 'zed'"]);
  t.same(formatRooms({ rooms: [], prefix: 'z\u001b[2J', more: false }), ["no rooms start with 'z?[2J'"], 'the echoed prefix is made safe');
});

t.test('with a clock (a terminal) a line starts with the local time and still holds "<author>: <text>"', async (t) => {
  const at = Date.UTC(2026, 11, 5, 13, 2, 30); // 14:02:30 in Berlin
  const e = { ...ev('post', 'alice', 'alice', 'hi'), hlc: { wall: at } };
  t.equal(formatEvent(e, { now: at + 60_000 }), '[14:02] alice: hi');
  t.equal(formatEvent(e), 'alice: hi', 'without a clock (a pipe) no time');
  t.equal(formatEvent({ ...ev('join', 'bob', 'alice'), hlc: { wall: at } }, { now: at }), '[14:02] bob joined alice');
  t.equal(formatEvent({ ...ev('create', 'bob', 'bob'), hlc: { wall: at } }, { now: at }), null);
});

t.test('a time on another day carries its date', async (t) => {
  const at = Date.UTC(2026, 11, 5, 22, 59); // 23:59 in Berlin
  t.equal(localTime(at, at + 30_000), '23:59');
  t.equal(localTime(at, at + 2 * 60_000), '2026-12-05 23:59', 'after local midnight');
  t.equal(localTime(Date.UTC(2025, 0, 1, 8, 0), at), '2025-01-01 09:00');
});
