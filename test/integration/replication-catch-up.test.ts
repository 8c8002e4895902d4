/**
 * Catch-up between machines: a machine that was shut down (every process
 * SIGKILLed at once) or lost its whole data dir gets exactly what it missed
 * when it comes back, and all three converge to byte-identical data.
 */
import t, { type Test } from 'tap';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ChatClient } from '../../lib/gen/ftchat/Chat';
import { call, converged, RAISED_QUOTAS, startCluster, type LogLine, type TestCluster, dumpEvents } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const MACHINES = ['m1', 'm2', 'm3'];

/** A user posting one post after another, retrying a failed post with the same id; records the acks. */
function poster(client: ChatClient, user: string) {
  const acked: string[] = [];
  let stopped = false;
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      const id = `${user}-${i}`;
      const ack = await waitFor(`ack of ${id}`, () => call(client, 'Post', { user, id, text: `${user} says ${i}` }), 30_000);
      acked.push(ack.event.id);
    }
  })();
  return {
    acked,
    async stop(): Promise<void> {
      stopped = true;
      await done;
    },
  };
}

function postIds(dump: string): string[] {
  return dumpEvents(dump).filter((e) => e.kind === 'post').map((e) => e.id);
}

/** How many lines of the machine's room files hold each event id. */
function storedCopies(cluster: TestCluster, machine: string): Map<string, number> {
  const dir = join(cluster.dir, 'data', machine, 'rooms');
  const counts = new Map<string, number>();
  for (const name of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean)) {
      const id = JSON.parse(line).id as string;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}

/** Each acknowledged post is in every machine's dump, stored once, and nothing else is. */
function checkExactlyOnce(t: Test, cluster: TestCluster, dump: string, acked: string[]): void {
  const ids = postIds(dump);
  t.same([...ids].sort(), [...acked].sort(), `the converged dump holds exactly the ${acked.length} acknowledged posts`);
  for (const m of MACHINES) {
    const copies = storedCopies(cluster, m);
    t.same(acked.filter((id) => copies.get(id) !== 1), [], `${m} stores each acknowledged post once`);
  }
}

t.test('a machine shut down and restarted catches up', async (t) => {
  const cluster = await startCluster({ machines: MACHINES, workers: 2, guardians: 1, quotas: RAISED_QUOTAS });
  t.teardown(() => cluster.teardown());
  const [c1, c2, c3] = MACHINES.map((m) => cluster.client(m));
  await call(c1, 'Connect', { user: 'ann' });
  await call(c2, 'Connect', { user: 'bea' });
  await call(c3, 'Connect', { user: 'cid' });

  const bea = poster(c2, 'bea');
  await waitFor('bea posting on m2', () => bea.acked.length >= 20);
  await bea.stop();
  const ann = poster(c1, 'ann');
  const cid = poster(c3, 'cid');
  await waitFor('posts flowing on m1 and m3', () => ann.acked.length >= 20 && cid.acked.length >= 20);

  await cluster.killMachine('m2');
  const atKill = ann.acked.length + cid.acked.length;
  await waitFor('posts on m1 and m3 while m2 is down', () => ann.acked.length + cid.acked.length >= atKill + 200, 30_000);
  const logsBefore = cluster.logs.length;
  await cluster.start('m2');
  const atRestart = ann.acked.length + cid.acked.length;
  await waitFor('posts on m1 and m3 after m2 is back', () => ann.acked.length + cid.acked.length >= atRestart + 50, 30_000);
  await Promise.all([ann.stop(), cid.stop()]);

  const dump = await converged(cluster, MACHINES);
  checkExactlyOnce(t, cluster, dump, [...bea.acked, ...ann.acked, ...cid.acked]);
  const caughtUp = cluster.logs.slice(logsBefore).filter((l) => l.machine === 'm2' && l.msg === 'caught up with peer');
  t.ok(caughtUp.some((l) => (l.received as number) > 0), 'the restarted m2 caught up from its peers');
  for (const l of caughtUp) t.comment(`m2 caught up from ${l.peer}: ${l.received} events in ${l.ms} ms (${l.eventsPerSec}/s)`);
});

t.test('a machine restarted with an empty data dir is refilled', async (t) => {
  const cluster = await startCluster({ machines: MACHINES, workers: 2, guardians: 1, quotas: RAISED_QUOTAS });
  t.teardown(() => cluster.teardown());
  const [c1, c2] = MACHINES.map((m) => cluster.client(m));
  await call(c1, 'Connect', { user: 'eve' });
  await call(c2, 'Connect', { user: 'dan' });
  const acked: string[] = [];
  for (let i = 0; i < 30; i++) acked.push((await call(c2, 'Post', { user: 'dan', id: `before-${i}`, text: `dan ${i}` })).event.id);
  await converged(cluster, MACHINES);

  await cluster.killMachine('m2');
  rmSync(join(cluster.dir, 'data', 'm2'), { recursive: true, force: true });
  for (let i = 0; i < 100; i++) acked.push((await call(c1, 'Post', { user: 'eve', id: `while-${i}`, text: `eve ${i}` })).event.id);
  await cluster.start('m2');
  const refilled = await converged(cluster, MACHINES);
  t.ok(postIds(refilled).includes('post/dan/before-0'), 'm2 got back even the posts it had written itself');

  // Caught up with both peers, the rebuilt m2 retires its old incarnation's origins: cursors carry one marker for them.
  const oldOrigins = new Set(dumpEvents(refilled).filter((e) => e.origin.startsWith('m2.')).map((e) => e.origin));
  const retired = await cluster.waitForLog('m2 to retire its older origins', (l) => l.machine === 'm2' && l.msg === 'retired older origins of this machine');
  t.equal(retired.origins, oldOrigins.size, `the old incarnation's ${oldOrigins.size} origins`);
  const tl = await waitFor("a cursor of m1's with the marker", async () => {
    const r = await call(c1, 'Timeline', { user: 'dan' });
    return Object.keys(r.cursor.seqs).includes(`${retired.by}.retired`) && r;
  });
  t.same(Object.keys(tl.cursor.seqs).filter((o) => oldOrigins.has(o)), [], 'and none of the retired origins');
  const m3 = cluster.client('m3');
  await waitFor('m3 to read the marker back: a Poll from it sends none of the old posts again', async () => (await call(m3, 'Poll', { user: 'dan', cursor: tl.cursor })).events.length === 0);

  // What the refilled machine writes next must not reuse the seqs of what it wrote before the loss.
  const c2again = cluster.client('m2');
  for (let i = 0; i < 5; i++) acked.push((await call(c2again, 'Post', { user: 'dan', id: `after-${i}`, text: `dan again ${i}` })).event.id);
  const dump = await converged(cluster, MACHINES);
  checkExactlyOnce(t, cluster, dump, acked);
});

t.test('a machine refilled from an empty data dir writes under fresh origins, even before its catch-up', async (t) => {
  const cluster = await startCluster({ machines: MACHINES, workers: 2, guardians: 1, quotas: RAISED_QUOTAS });
  t.teardown(() => cluster.teardown());
  const [c1, c2] = MACHINES.map((m) => cluster.client(m));
  await call(c2, 'Connect', { user: 'ida' });
  const acked: string[] = [];
  for (let i = 0; i < 20; i++) acked.push((await call(c2, 'Post', { user: 'ida', id: `old-${i}`, text: `old ${i}` })).event.id);
  await converged(cluster, MACHINES);
  const oldOrigins = new Set(dumpEvents(await cluster.dump('m1')).map((e) => e.origin));

  await cluster.killMachine('m2');
  rmSync(join(cluster.dir, 'data', 'm2'), { recursive: true, force: true });
  await cluster.start('m2');
  // Straight away, before m2 has caught up: its workers start seqs at 1 again.
  const c2again = cluster.client('m2');
  await call(c2again, 'Connect', { user: 'ida' });
  const fresh = await call(c2again, 'Post', { user: 'ida', id: 'new-0', text: 'new 0' });
  acked.push(fresh.event.id);
  t.notOk(oldOrigins.has(fresh.event.origin), `the new post's origin ${fresh.event.origin} is not one m2 used before`);
  await call(c1, 'Connect', { user: 'ida' });
  const dump = await converged(cluster, MACHINES);
  checkExactlyOnce(t, cluster, dump, acked);
});

t.test('a SIGKILLed replicator comes back and misses nothing', async (t) => {
  const cluster = await startCluster({ machines: MACHINES, workers: 2, guardians: 1, quotas: RAISED_QUOTAS });
  t.teardown(() => cluster.teardown());
  const [c1, , c3] = MACHINES.map((m) => cluster.client(m));
  await call(c1, 'Connect', { user: 'fay' });
  await call(c3, 'Connect', { user: 'gus' });
  const fay = poster(c1, 'fay');
  const gus = poster(c3, 'gus');
  for (let kill = 0; kill < 3; kill++) {
    const acked = fay.acked.length + gus.acked.length;
    await waitFor('posts flowing', () => fay.acked.length + gus.acked.length >= acked + 40, 30_000);
    const serving = (): LogLine[] => cluster.logs.filter((l) => l.machine === 'm2' && l.msg === 'replicator serving');
    const before = serving().length;
    process.kill(serving().pop()!.pid, 'SIGKILL');
    await waitFor('m2 replicator revived', () => serving().length > before, 30_000);
  }
  await Promise.all([fay.stop(), gus.stop()]);
  const dump = await converged(cluster, MACHINES);
  checkExactlyOnce(t, cluster, dump, [...fay.acked, ...gus.acked]);
});
