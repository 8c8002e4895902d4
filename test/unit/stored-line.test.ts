import t from 'tap';
import { eventToLine, type ChatEvent } from '../../lib/core/event';
import { maxLineBytes, storedLineEvent } from '../../lib/core/stored-line';

const post: ChatEvent = { id: 'p1', origin: 'm1.abc123.w0', seq: 7, kind: 'post', room: 'alice', author: 'alice', text: 'hi ✓', hlc: { wall: 1_700_000_000_000, logical: 2 } };
const MAX = maxLineBytes(1000);
const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

t.test('a line a peer ships is stored as it came only if it reads back as exactly the event checked', async (t) => {
  t.same(storedLineEvent(bytes(eventToLine(post)), MAX), post, 'an event line reads as its event');
  const keyed = { ...post, key: 'A'.repeat(22) };
  t.same(storedLineEvent(bytes(eventToLine(keyed)), MAX), keyed, 'with its key');
  t.match(storedLineEvent(bytes(eventToLine(post).replace(',"seq"', ',\n"seq"')), MAX), /line break/, 'a line break would split it into two lines on disk');
  t.match(storedLineEvent(bytes(eventToLine(post).replace('}}', '},"extra":"x"}')), MAX), /unknown key "extra"/, 'an unknown key would be stored unread');
  t.match(storedLineEvent(bytes(eventToLine(post).replace('"logical":2}', '"logical":2,"x":1}')), MAX), /hlc/, 'so would one in its clock reading');
  t.match(storedLineEvent(bytes(eventToLine(post).replace('}}', '},"key":""}')), MAX), /empty key/, 'an empty key reads back as none');
  t.match(storedLineEvent(bytes(eventToLine({ ...post, text: 'x'.repeat(MAX) })), MAX), /bytes \(at most/, 'a line past the bound');
  t.equal(storedLineEvent(bytes('{"id":'), MAX), 'not JSON');
  t.equal(storedLineEvent(bytes(eventToLine({ ...post, room: '../etc' })), MAX), 'malformed event', 'a room that is no username names no room file');
});
