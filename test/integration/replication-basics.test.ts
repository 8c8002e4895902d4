/**
 * Three machines as one service, over real gRPC between real process trees: a
 * post reaches a follower connected to another machine, a post stored on two
 * machines by a retry ends up the same everywhere, and the replication port
 * refuses anyone without the cluster secret.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ftchatProto } from '../../lib/common/proto';
import { secretMetadata } from '../../lib/common/secret';
import type { EventBatch__Output } from '../../lib/gen/ftchat/EventBatch';
import type { Event__Output } from '../../lib/gen/ftchat/Event';
import { call, converged, RAISED_QUOTAS, startCluster, type TestCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { signalPids } from '../../lib/common/processes';
import { machineChannelCredentials } from '../../lib/common/transport-security';
import { loadConfig } from '../../lib/common/config';

let cluster: TestCluster;
t.before(async () => {
  cluster = await startCluster({ machines: ['m1', 'm2', 'm3'], workers: 2, guardians: 1, quotas: RAISED_QUOTAS });
});
t.teardown(() => cluster.teardown());

t.test('a post on m1 reaches a follower on m3', async (t) => {
  const m1 = cluster.client('m1');
  const m3 = cluster.client('m3');
  await call(m1, 'Connect', { user: 'speaker' });
  await call(m3, 'Connect', { user: 'listener' });
  // The join needs speaker's room, which reaches m3 by replication.
  await waitFor('speaker known on m3', () => call(m3, 'Join', { user: 'listener', room: 'speaker' }));
  const tl = await call(m3, 'Timeline', { user: 'listener' });
  const arrived = new Map<string, number[]>();
  const stream = m3.Subscribe({ user: 'listener', cursor: tl.cursor });
  stream.on('data', (item: { event: Event__Output | null }) => {
    if (item.event?.kind === 'post') arrived.set(item.event.id, [...(arrived.get(item.event.id) ?? []), Date.now()]);
  });
  stream.on('error', () => undefined);
  t.teardown(() => stream.cancel());

  const lags: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) {
    const sent = Date.now();
    const ack = await call(m1, 'Post', { user: 'speaker', id: `lag-${i}`, text: `post ${i} from m1` });
    ids.push(ack.event.id);
    const [at] = await waitFor(`post ${i} on m3`, () => arrived.get(ack.event.id));
    lags.push(at - sent);
  }
  t.same([...arrived.keys()], ids, 'every post arrived on m3, in the order it was posted');
  t.ok([...arrived.values()].every((times) => times.length === 1), 'each exactly once');
  const sorted = [...lags].sort((a, b) => a - b);
  t.comment(`post on m1 -> follower on m3 (post call to delivery): p50 ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted[sorted.length - 1]} ms over ${lags.length} posts`);
});

t.test('a replication RPC without the cluster secret is refused', async (t) => {
  const P = ftchatProto();
  // A peer with m2's certificate (a peer's claimed name must be its certificate's), with and without the secret.
  const peer = new P.ftchat.Replication(cluster.peerAddress('m1'), machineChannelCredentials(loadConfig(cluster.configFile), 'm2'));
  t.teardown(() => peer.close());
  const firstAnswer = (md: grpc.Metadata): Promise<{ batch?: EventBatch__Output; err?: grpc.ServiceError }> =>
    new Promise((resolve) => {
      const s = peer.Pull({ from: 'm2', vector: { seqs: {} } }, md);
      s.on('data', (batch: EventBatch__Output) => {
        resolve({ batch });
        s.cancel();
      });
      s.on('error', (err: grpc.ServiceError) => resolve({ err }));
    });

  const none = await firstAnswer(new grpc.Metadata());
  t.equal(none.err?.code, grpc.status.UNAUTHENTICATED, 'no secret: UNAUTHENTICATED');
  t.match(none.err?.details, /cluster secret/, 'with a message that says why');
  const wrong = await firstAnswer(secretMetadata('guessed'));
  t.equal(wrong.err?.code, grpc.status.UNAUTHENTICATED, 'a wrong secret: UNAUTHENTICATED');
  await cluster.waitForLog('the refusal logged on m1', (l) => l.machine === 'm1' && l.role === 'replicator' && /refused internal RPC/.test(l.msg));

  const right = await firstAnswer(secretMetadata(loadConfig(cluster.configFile).secret)); // fbs init's, in tls/secret
  t.equal(right.err, undefined, 'with the secret the same call is served');
  t.ok(right.batch, 'and streams its first batch');
});

t.test('a post stored on two machines by a retry is shown once, and the same everywhere', async (t) => {
  const m1 = cluster.client('m1');
  const m3 = cluster.client('m3');
  await call(m1, 'Connect', { user: 'retrier' });
  await waitFor('retrier known on m3', () => call(m3, 'Timeline', { user: 'retrier' }));
  // Hold m3's replicator still, so m3 cannot know that m1 already stored the post.
  const replicator = (await cluster.upProcess('m3', 'replicator')).pid;
  process.kill(replicator, 'SIGSTOP');
  // Its primary may kill it as hung meanwhile (3 s without a pong on a loaded machine): then there is nothing to resume.
  t.teardown(() => signalPids([replicator], 'SIGCONT'));
  const first = await call(m1, 'Post', { user: 'retrier', id: 'sent-twice', text: 'the same post' });
  const retried = await call(m3, 'Post', { user: 'retrier', id: 'sent-twice', text: 'the same post' });
  signalPids([replicator], 'SIGCONT');
  t.not(first.event.origin.split('.')[0], retried.event.origin.split('.')[0], 'both machines stored it, under their own slots');

  const dump = await converged(cluster, ['m1', 'm2', 'm3']);
  t.equal(dump.split('\n').filter((l) => l.includes('"post/retrier/sent-twice"')).length, 1, 'the dump shows it once');
  for (const m of ['m1', 'm2', 'm3']) {
    const stored = readFileSync(join(cluster.dir, 'data', m, 'rooms', 'retrier.jsonl'), 'utf8');
    t.equal(stored.split('\n').filter((l) => l.includes('"post/retrier/sent-twice"')).length, 2, `${m} holds both copies, so both slots are filled`);
    const shown = await waitFor(`${m} timeline`, async () => {
      const tl = await call(cluster.client(m), 'Timeline', { user: 'retrier' });
      return tl.events.length > 0 && tl.events.map((e: Event__Output) => e.id);
    });
    t.same(shown, ['post/retrier/sent-twice'], `${m} shows it once`);
  }
});

