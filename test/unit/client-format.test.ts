/** What the client prints for events and room lists. */
import t from 'tap';
import { formatEvent, formatRooms, MORE_ROOMS_HINT } from '../../lib/client/format';

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
