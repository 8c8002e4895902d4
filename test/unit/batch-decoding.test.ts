/**
 * A faulty peer's undecodable event is refused alone, not its whole batch (the fuzz's
 * unconverged dumps: every pull failed at the same batch, 'Response message parsing
 * error', and which events shared it depended on the puller's vector). The batch's
 * other events, its fields and its retirements come through; the bad one comes out
 * empty, which the link refuses as a malformed event.
 */
import t from 'tap';
import { asEvent } from '../../lib/core/event';
import { ftchatProto } from '../../lib/common/proto';
import { decodeBatch } from '../../lib/replication/batch-decoding';
import { encode, type Field } from '../helpers/raw-grpc';

const event = (id: string, seq: number): Buffer =>
  encode([[1, id], [2, 'm3.aaaaaa.w0'], [3, seq], [4, 'post'], [5, 'alice'], [6, 'alice'], [7, 'hi'], [8, [[1, 1_700_000_000_000], [2, 0]]]]);
const retirement = encode([[1, 'm3.bbbbbb'], [2, ''], [3, [[1, 'm3.aaaaaa.w0'], [2, 2]]]]);
/** Field 1 (id), length 255, and no bytes: no Event decodes from it. */
const undecodable = Buffer.from([0x0a, 0xff]);
const batch = (events: Buffer[], retired: Buffer[]): Buffer =>
  encode([...events.map((e): Field => [1, e]), [2, 7], [3, 1], [4, 1_700_000_000_123], ...retired.map((r): Field => [5, r])]);
const whole = ftchatProto().ftchat.Replication.service.Pull.responseDeserialize;

t.test('a well-formed batch decodes as grpc-js decodes it', async (t) => {
  const bytes = batch([event('post/alice/a', 1), event('post/alice/b', 2)], [retirement]);
  t.same(decodeBatch(bytes), whole(bytes));
});

t.test("an undecodable event is one empty event among the batch's others", async (t) => {
  const bytes = batch([event('post/alice/a', 1), undecodable, event('post/alice/b', 2)], [retirement]);
  t.throws(() => whole(bytes), 'decoded whole, the batch fails');
  const b = decodeBatch(bytes);
  t.same(b.events.map((e) => e.id), ['post/alice/a', '', 'post/alice/b'], 'the others come through, in order');
  t.equal(asEvent(b.events[1]), null, 'the bad one is no event: the link refuses it as malformed');
  t.match(b, { backlog: 7, live: true, sent_at_ms: 1_700_000_000_123 }, "the batch's own fields kept");
  t.same(b.retired.map((r) => r.by), ['m3.bbbbbb'], 'and its retirements');
});

t.test('an undecodable retirement comes out empty, the events go on', async (t) => {
  const b = decodeBatch(batch([event('post/alice/a', 1)], [undecodable, retirement]));
  t.same(b.retired.map((r) => r.by), ['', 'm3.bbbbbb']);
  t.same(b.events.map((e) => e.id), ['post/alice/a']);
});

t.test("a batch whose own framing is broken still fails", async (t) => {
  t.throws(() => decodeBatch(Buffer.concat([batch([event('post/alice/a', 1)], []), Buffer.from([0x0a, 0xff])])));
});
