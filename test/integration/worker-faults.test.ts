/**
 * Durability promises of one machine under process faults: an acknowledged post
 * is on disk before its ack, survives a restart, and is never lost or stored
 * twice when the worker serving its client is SIGKILLed mid-stream.
 */
import t from 'tap';
import { authedChatClient } from '../../lib/client/identity';
import type { ChatClient } from '../../lib/gen/ftchat/Chat';
import { call, FBS, startCluster, testKeys } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { execFileSync } from 'node:child_process';
import { credentialsFor } from '../helpers/trust';

function freshClient(address: string): ChatClient {
  return authedChatClient(address, testKeys, {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.initial_reconnect_backoff_ms': 50,
  }, credentialsFor(address));
}

function dumpIds(configFile: string): string[] {
  const out = execFileSync(process.execPath, [FBS, 'dump', '--machine', 'm1', '--config', configFile], { encoding: 'utf8' });
  return out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).id as string);
}

t.test('an acknowledged post survives a SIGKILL of the whole machine and a restart', async (t) => {
  const cluster = await startCluster({ workers: 2 });
  t.teardown(() => cluster.teardown());
  const c = cluster.client();
  await call(c, 'Connect', { user: 'keeper' });
  await call(c, 'Connect', { user: 'reader' });
  await call(c, 'Join', { user: 'reader', room: 'keeper' });
  const ack = await call(c, 'Post', { user: 'keeper', id: 'durable-1', text: 'written to disk' });
  c.close();

  await cluster.killMachine('m1');
  await cluster.start('m1');

  const after = cluster.client();
  const tl = await waitFor('the restarted machine to answer', () => call(after, 'Timeline', { user: 'reader' }));
  t.same(tl.events.map((e: { id: string }) => e.id), [ack.event.id], 'the post is there after the restart');
  const conn = await call(after, 'Connect', { user: 'reader' });
  t.same(conn.following, ['keeper', 'reader'], 'the follow graph survived too');
});

t.test('a SIGKILLed worker: the survivor keeps serving, it comes back, and no acknowledged post is lost or doubled', async (t) => {
  const cluster = await startCluster({ workers: 2 });
  t.teardown(() => cluster.teardown());
  const posters = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'];
  const setup = cluster.client();
  for (const p of posters) await call(setup, 'Connect', { user: p });

  const acked = new Set<string>();
  const perPoster = 60;
  // Each poster retries a failed post with the same id on a new connection until it is acknowledged.
  const run = async (user: string): Promise<void> => {
    let client = freshClient(cluster.address());
    for (let i = 0; i < perPoster; i++) {
      const id = `${user}-${i}`;
      await waitFor(`ack of ${id}`, async () => {
        try {
          const r = await call(client, 'Post', { user, id, text: `post ${i}` });
          acked.add(r.event.id);
          return true;
        } catch (err) {
          client.close();
          client = freshClient(cluster.address());
          throw err;
        }
      }, 30_000);
    }
    client.close();
  };
  const posting = Promise.all(posters.map(run));

  await waitFor('some posts acknowledged', () => acked.size >= 40);
  const [victim] = cluster.workerPids('m1');
  process.kill(victim, 'SIGKILL');
  const ackedAtKill = acked.size;
  await posting;
  t.ok(ackedAtKill < posters.length * perPoster, `the kill landed while posting (${ackedAtKill} acknowledged before it)`);

  await waitFor('the killed worker re-forked and up in fbs status', async () => {
    const workers = (await cluster.status()).processes.filter((p) => p.machine === 'm1' && p.role === 'worker');
    return workers.length === 2 && workers.every((p) => p.state === 'up' && p.pid !== victim);
  }, 30_000);
  t.equal(acked.size, posters.length * perPoster, 'every post was eventually acknowledged');
  const ids = dumpIds(cluster.configFile).filter((id) => id.startsWith('post/'));
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  t.same([...acked].filter((id) => counts.get(id) !== 1), [], 'each acknowledged post is stored exactly once');
  t.equal(ids.length, acked.size, 'nothing else was stored');
});
