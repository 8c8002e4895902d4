/**
 * What crosses IPC between a machine's primary and its children is one typed union,
 * parsed in one place (lib/common/ipc-message.ts): a well-formed message reaches the
 * handlers of its type, anything else is dropped with one log line.
 */
import { EventEmitter } from 'node:events';
import t from 'tap';
import { IpcInbox, parseIpcMessage } from '../../lib/common/ipc-message';
import type { Logger } from '../../lib/common/log';

const ok = (msg: unknown): boolean => typeof parseIpcMessage(msg) !== 'string';

t.test('a doorbell names rooms, and optionally top seqs per origin and a log record position; anything else is refused', async (t) => {
  t.ok(ok({ type: 'doorbell', rooms: ['ann'] }), 'rooms only (the files are read)');
  t.ok(ok({ type: 'doorbell', rooms: ['ann'], upTo: { 'm1.abc.w0': 3 }, record: { segment: 0, offset: 4096 } }), 'with seqs and a record');
  for (const [why, msg] of [
    ['a seq that is no positive integer', { type: 'doorbell', rooms: ['ann'], upTo: { 'm1.abc.w0': 1.5 } }],
    ['an origin that is no origin', { type: 'doorbell', rooms: ['ann'], upTo: { '../x': 3 } }],
    ['upTo as a list', { type: 'doorbell', rooms: ['ann'], upTo: [3] }],
    ['a negative record offset', { type: 'doorbell', rooms: ['ann'], upTo: { 'm1.abc.w0': 3 }, record: { segment: 0, offset: -1 } }],
    ['a record without a segment', { type: 'doorbell', rooms: ['ann'], record: { offset: 0 } }],
    ['a room that is no user name', { type: 'doorbell', rooms: ['../etc'] }],
  ] as const) t.notOk(ok(msg), why);
});

t.test('every other type is checked against its shape', async (t) => {
  t.ok(ok({ type: 'ping' }));
  t.ok(ok({ type: 'pong', loading: true }));
  t.notOk(ok({ type: 'pong', loading: 'yes' }), 'loading is a boolean');
  t.ok(ok({ type: 'chat-mode', user: 'ann', on: true }));
  t.notOk(ok({ type: 'chat-mode', user: '../etc', on: true }), 'not a username');
  t.notOk(ok({ type: 'chat-mode', user: 'ann' }), 'no on/off');
  t.ok(ok({ type: 'chat-elsewhere', user: 'ann', on: false }));
  t.ok(ok({ type: 'clock', offsets: { m2: -3 } }));
  t.notOk(ok({ type: 'clock', offsets: { m2: 'far' } }), 'an offset is a number');
  t.ok(ok({ type: 'quota', id: 1, kind: 'post', key: 'ann', want: 1, unspent: 0 }));
  t.notOk(ok({ type: 'quota', id: 1, kind: 'post', key: 'ann', want: 1, unspent: -5 }), 'a negative give-back');
  t.notOk(ok({ type: 'quota', id: 1, kind: 'everything', key: 'ann', want: 1, unspent: 0 }), 'no such quota');
  t.ok(ok({ type: 'quota-grant', id: 1, tokens: 1, waitMs: 0 }));
  t.ok(ok({ type: 'metrics-ask', id: 2 }));
  t.ok(ok({ type: 'metrics', id: 2, metrics: [] }));
  t.same(parseIpcMessage({ type: 'changed', rooms: ['ann'] }), 'unknown type "changed"', "the doorbell's old name is no type any more");
  t.same(parseIpcMessage(null), 'not an object');
  t.same(parseIpcMessage({ type: 'toString' }), 'unknown type "toString"', 'not a key of the table by inheritance');
});

t.test('an inbox hands each message to the handlers of its type and drops the rest with one log line', async (t) => {
  const source = new EventEmitter();
  const warned: unknown[] = [];
  const log = { warn: (msg: string, fields?: Record<string, unknown>) => warned.push([msg, fields]) } as unknown as Logger;
  const pings: unknown[] = [];
  const rung: string[][] = [];
  new IpcInbox(source, log).on('ping', (m) => pings.push(m)).on('doorbell', (m) => rung.push(m.rooms));
  source.emit('message', { type: 'ping' });
  source.emit('message', { type: 'doorbell', rooms: ['ann'] });
  source.emit('message', { type: 'gossip', text: 'hi' });
  source.emit('message', { type: 'doorbell', rooms: 'ann' });
  source.emit('message', { type: 'pong' }); // known, and no handler here: nothing to do
  t.same(pings, [{ type: 'ping' }]);
  t.same(rung, [['ann']]);
  t.same(warned, [
    ['dropped an IPC message', { reason: 'unknown type "gossip"' }],
    ['dropped an IPC message', { reason: 'a malformed doorbell' }],
  ]);
});
