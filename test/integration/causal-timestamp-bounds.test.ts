/**
 * The measured split (issue 11): one Post whose `after` ran a minute ahead with its
 * logical counter at the top of uint32, sent by a client that is not grpc-js's
 * generated one. The clock went past what the wire carries and the peers stored
 * another key. Now the clock moves its wall on instead, every machine stores the same
 * key and the dumps stay byte-identical; a timestamp past the lead bound is refused.
 */
import tap from 'tap';
import * as grpc from '@grpc/grpc-js';
import { call, converged, dumpEvents, startCluster } from '../helpers/server';
import { encode, rawUnary } from '../helpers/raw-grpc';
import { MAX_LOGICAL } from '../../lib/core/hlc';
import { sessionMetadata } from '../../lib/client/identity';
const t = tap;

t.test("a Post whose 'after' leads by a minute with a full logical counter keeps all three dumps identical", async (t) => {
  const cluster = await startCluster({ machines: ['m1', 'm2', 'm3'] });
  t.teardown(() => cluster.teardown());
  const { token } = await call(cluster.client('m1'), 'Connect', { user: 'skewer' });
  const ahead = Date.now() + 60_000;
  const post = (wall: number | bigint, id: string) =>
    rawUnary(cluster.address('m1'), '/ftchat.Chat/Post', encode([[1, 'skewer'], [2, id], [3, 'from the future'], [4, [[1, wall], [2, MAX_LOGICAL]]]]), sessionMetadata(token));
  const ok = await post(ahead, 'ahead');
  t.equal(ok.code, grpc.status.OK, `accepted: ${ok.details}`);
  const far = await post(BigInt(Date.now()) + 25n * 3600_000n, 'far');
  t.equal(far.code, grpc.status.INVALID_ARGUMENT, 'an after a day ahead is refused');
  t.match(far.details, /causal timestamp \d+ s ahead of this server's clock; at most 86400 s/, 'in one clear line');
  const huge = await post(2n ** 60n, 'huge');
  t.equal(huge.code, grpc.status.INVALID_ARGUMENT, 'a wall past 2^53 is refused');
  // A later post through another machine must sort after it everywhere.
  await call(cluster.client('m2'), 'Post', { user: 'skewer', id: 'later', text: 'after it' });
  const dump = await converged(cluster, ['m1', 'm2', 'm3']);
  const events = dumpEvents(dump);
  const stored = events.find((e) => e.id === 'post/skewer/ahead') as unknown as { hlc: { wall: number; logical: number } };
  t.ok(stored, 'the post is stored');
  t.equal(stored.hlc.wall, ahead + 1, 'its stamp moved the wall on past the full counter (observe, then stamp: logical 1)');
  t.ok(events.every((e) => (e.hlc as { logical: number }).logical <= MAX_LOGICAL), 'no stored counter passes uint32');
  t.same(events.filter((e) => e.kind === 'post').map((e) => e.id), ['post/skewer/ahead', 'post/skewer/later'], 'one order on every machine');
  t.notOk(events.some((e) => e.id === 'post/skewer/far' || e.id === 'post/skewer/huge'), 'the refused posts are nowhere');
});
