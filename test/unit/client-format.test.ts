/** What the client prints for events and room lists. */
import t from 'tap';
import { formatEvent, formatRooms } from '../../lib/client/format';

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
  t.same(
    formatRooms([
      { name: 'alice', own: true, following: true },
      { name: 'bob', own: false, following: true },
      { name: 'carol', own: false, following: false },
    ]),
    ['* alice (your room)', '* bob (following)', '  carol'],
  );
  t.same(formatRooms([]), ['no rooms yet']);
});
