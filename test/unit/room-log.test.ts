/**
 * The room file format: complete lines are events, a torn last line is a tail,
 * and a corrupt line is reported at its byte offset without losing the rest.
 */
import t from 'tap';
import { eventToLine } from '../../lib/core/event';
import { blankLine, parseRoomLog } from '../../lib/core/room-log';
import { ev } from '../helpers/events';

const e1 = ev({ origin: 'm1.w0', seq: 1, text: 'first' });
const e2 = ev({ origin: 'm1.w0', seq: 2, text: 'second' });
const e3 = ev({ origin: 'm1.w0', seq: 3, text: 'third' });
const line = (e: typeof e1): string => `${eventToLine(e)}\n`;

t.test('complete lines parse into events, in file order', async (t) => {
  const buf = Buffer.from(line(e1) + line(e2) + line(e3));
  const parsed = parseRoomLog(buf);
  t.same(parsed.events, [e1, e2, e3]);
  t.same({ consumed: parsed.consumed, tail: parsed.tail, corrupt: parsed.corrupt }, { consumed: buf.length, tail: 0, corrupt: [] });
});

t.test('a torn last line is left as tail, not an event', async (t) => {
  const whole = line(e1) + line(e2);
  const torn = line(e3).slice(0, 25);
  const parsed = parseRoomLog(Buffer.from(whole + torn));
  t.same(parsed.events, [e1, e2]);
  t.equal(parsed.consumed, Buffer.byteLength(whole), 'consumed stops at the last newline');
  t.equal(parsed.tail, Buffer.byteLength(torn));
  t.same(parsed.corrupt, [], 'the tail is not reported as corrupt');
  const missingNewline = parseRoomLog(Buffer.from(whole + eventToLine(e3)));
  t.same(missingNewline.events, [e1, e2], 'a whole JSON line without its newline is still a tail');
  t.equal(missingNewline.tail, Buffer.byteLength(eventToLine(e3)));
});

t.test('a corrupt line in the middle is reported with its byte offset and later lines still parse', async (t) => {
  const before = line(e1);
  const garbage = '{"id":"x", this is not json\n';
  const notEvent = '{"id":"y","kind":"post"}\n';
  const buf = Buffer.from(before + garbage + line(e2) + notEvent + line(e3));
  const parsed = parseRoomLog(buf);
  t.same(parsed.events, [e1, e2, e3], 'every good line around the bad ones');
  const at1 = Buffer.byteLength(before);
  const at2 = at1 + Buffer.byteLength(garbage + line(e2));
  t.same(parsed.corrupt, [
    { offset: at1, length: garbage.length - 1, reason: 'not JSON' },
    { offset: at2, length: notEvent.length - 1, reason: 'not an event' },
  ]);
  t.equal(buf.toString('utf8', at1, at1 + 9), '{"id":"x"', 'the offset points at the start of the bad line');
  t.equal(parsed.consumed, buf.length);
});

t.test('offsets are relative to the base the buffer starts at', async (t) => {
  const buf = Buffer.from(`garbage\n${line(e1)}`);
  const parsed = parseRoomLog(buf, 4096);
  t.same(parsed.corrupt, [{ offset: 4096, length: 7, reason: 'not JSON' }]);
  t.same(parsed.events, [e1]);
  t.equal(parsed.consumed, buf.length, 'consumed counts from the buffer start, not the base');
});

t.test('empty lines are ignored', async (t) => {
  const parsed = parseRoomLog(Buffer.from(`\n\n${line(e1)}\n${line(e2)}\n`));
  t.same(parsed.events, [e1, e2]);
  const first = Buffer.byteLength(eventToLine(e1));
  t.same(parsed.offsets, [2, 2 + first + 2], 'each event says where its line starts (an empty line between them)');
  t.same(parsed.lengths, [first, Buffer.byteLength(eventToLine(e2))], 'and how long it is, without the newline');
  t.same(parsed.corrupt, []);
  t.equal(parsed.tail, 0);
  t.same(parseRoomLog(Buffer.alloc(0)), { events: [], offsets: [], lengths: [], consumed: 0, tail: 0, corrupt: [] }, 'an empty file');
});

t.test('a quarantined line (blanked in place with spaces) is no event and not corrupt', async (t) => {
  const bad = '{"id":"x", this is not json';
  const buf = Buffer.from(`${line(e1)}${blankLine(bad.length).toString()}\n${line(e2)}`);
  const parsed = parseRoomLog(buf);
  t.same(parsed.events, [e1, e2]);
  t.same(parsed.corrupt, []);
  t.same(parsed.offsets[1], Buffer.byteLength(line(e1)) + bad.length + 1, 'the lines after it keep their offsets');
  t.same(parseRoomLog(Buffer.from(' x \n')).corrupt, [{ offset: 0, length: 3, reason: 'not JSON' }], 'spaces around other bytes are still corrupt');
});

t.test('multi-byte UTF-8 text gives byte offsets, not character offsets', async (t) => {
  const wide = ev({ origin: 'm1.w0', seq: 1, text: 'héllo wörld 🌍🌍 日本語' });
  const first = line(wide);
  t.ok(Buffer.byteLength(first) > first.length, 'the line has multi-byte characters');
  const buf = Buffer.from(`${first}not json\n${line(e2)}${line(e3).slice(0, 10)}`);
  const parsed = parseRoomLog(buf);
  t.same(parsed.events, [wide, e2], 'multi-byte text survives');
  t.same(parsed.corrupt, [{ offset: Buffer.byteLength(first), length: 8, reason: 'not JSON' }]);
  t.equal(parsed.consumed, buf.length - 10);
  t.equal(parsed.tail, 10);
});

t.test('a tail cut inside a multi-byte character is still only a tail', async (t) => {
  const wide = line(ev({ origin: 'm1.w0', seq: 2, text: '🌍🌍🌍' }));
  const bytes = Buffer.from(wide);
  const cut = bytes.indexOf(Buffer.from('🌍')) + 2; // in the middle of the 4-byte emoji
  const buf = Buffer.concat([Buffer.from(line(e1)), bytes.subarray(0, cut)]);
  const parsed = parseRoomLog(buf);
  t.same(parsed.events, [e1]);
  t.equal(parsed.tail, cut);
  t.same(parsed.corrupt, []);
});
