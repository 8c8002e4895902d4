/** The doorbell between a machine's processes: only well-formed messages are taken. */
import t from 'tap';
import { isDoorbell } from '../../lib/machine/doorbell';

t.test('a doorbell names rooms, and optionally top seqs per origin and a log record position; anything else is refused', async (t) => {
  t.ok(isDoorbell({ type: 'changed', rooms: ['ann'] }), 'rooms only (the files are read)');
  t.ok(isDoorbell({ type: 'changed', rooms: ['ann'], upTo: { 'm1.abc.w0': 3 }, record: { segment: 0, offset: 4096 } }), 'with seqs and a record');
  for (const [why, msg] of [
    ['a seq that is no positive integer', { type: 'changed', rooms: ['ann'], upTo: { 'm1.abc.w0': 1.5 } }],
    ['an origin that is no origin', { type: 'changed', rooms: ['ann'], upTo: { '../x': 3 } }],
    ['upTo as a list', { type: 'changed', rooms: ['ann'], upTo: [3] }],
    ['a negative record offset', { type: 'changed', rooms: ['ann'], upTo: { 'm1.abc.w0': 3 }, record: { segment: 0, offset: -1 } }],
    ['a record without a segment', { type: 'changed', rooms: ['ann'], record: { offset: 0 } }],
    ['a room that is no user name', { type: 'changed', rooms: ['../etc'] }],
  ] as const) t.notOk(isDoorbell(msg), why);
});
