/**
 * A writer SIGKILLed while it holds the machine's room lock does not stall the
 * others until the lock goes stale: the lock names its holder, and the holder's
 * death breaks it. The lock's staleness is set to a minute here, so a test that
 * had to wait it out would time out instead.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { breakLockOf, lockHolder, ownedLockFs } from '../../lib/storage/lock-owner';
import { roomLockPath } from '../../lib/storage/room-files';
import { authedChatClient } from '../../lib/client/identity';
import { call, RAISED_QUOTAS, startCluster, testKeys, type TestCluster } from '../helpers/server';
import { spawnWriter, tempDir } from '../helpers/storage';
import { waitFor } from '../helpers/wait';
import { credentialsFor } from '../helpers/trust';

const MINUTE = 60_000;

/** SIGKILLs `pid` at a moment it holds the lock at `lockPath` (stopped first, so the moment cannot pass). */
async function killWhileHolding(lockPath: string, pid: number): Promise<void> {
  await waitFor(`pid ${pid} to hold ${lockPath} at a stop`, () => {
    if (lockHolder(lockPath) !== pid) return false;
    process.kill(pid, 'SIGSTOP');
    if (lockHolder(lockPath) === pid) return true;
    process.kill(pid, 'SIGCONT'); // it released the lock before the stop landed: try again
    return false;
  }, 20_000, 1);
  process.kill(pid, 'SIGKILL');
}

/** The machine's primary broke the lock `holder` died with, and m1 takes a post long before that lock would be stale. */
async function lockBrokenAndPostsTaken(t: Test, cluster: TestCluster, holder: number): Promise<void> {
  const broke = await cluster.waitForLog('the primary to break the dead writer\'s lock', (l) => l.msg === 'broke the room lock of a dead writer');
  t.equal(broke.holderPid, holder, "the dead writer's lock was broken");
  const ack = await waitFor('a post to be acknowledged', () =>
    call(cluster.client('m1'), 'Post', { user: 'ann', id: `after-${holder}`, text: 'still writing' }).catch(() => null),
  20_000);
  t.ok(ack, 'a post is acknowledged well before the lock would have gone stale');
}

t.test('a lock names its holder while held and leaves nothing behind when released', async (t) => {
  const dir = tempDir(t);
  const lockPath = join(dir, 'rooms.lock');
  const release = await lockfile.lock(dir, { fs: ownedLockFs(fs), lockfilePath: lockPath, realpath: false, stale: MINUTE, retries: 0 });
  t.equal(lockHolder(lockPath), process.pid, 'the lock records our pid');
  t.notOk(breakLockOf(lockPath, process.pid + 1), 'a lock held by someone else is not broken');
  t.ok(existsSync(lockPath), 'and is still there');
  await release();
  t.notOk(existsSync(lockPath), 'released: the lock directory is gone');
  t.equal(lockHolder(lockPath), null, 'and names nobody');
});

t.test("a writer killed holding the lock: breaking its lock lets the next writer in at once", async (t) => {
  const machineDir = join(tempDir(t), 'm1');
  const lockPath = roomLockPath(machineDir);
  const victim = spawnWriter(t, { machineDir, origin: 'victim', rooms: ['ann'], count: -1, lockStaleMs: MINUTE });
  await killWhileHolding(lockPath, victim.child.pid!);
  await victim.exited;
  t.equal(lockHolder(lockPath), victim.child.pid, 'the dead writer still holds the lock');
  t.ok(breakLockOf(lockPath, victim.child.pid!), 'its lock is broken');
  const next = spawnWriter(t, { machineDir, origin: 'next', rooms: ['ann'], count: 20, lockStaleMs: MINUTE });
  t.same(await next.exited, { code: 0, signal: null }, `the next writer appended all its posts without waiting out the stale lock${next.stderr()}`);
  t.equal(next.committed.length, 20);
});

t.test('a worker killed holding the room lock: the machine keeps taking posts, its primary broke the lock', async (t) => {
  const cluster = await startCluster({ machines: ['m1'], workers: 2, storage: { lockStaleMs: MINUTE }, quotas: RAISED_QUOTAS });
  t.teardown(() => cluster.teardown());
  const lockPath = roomLockPath(join(cluster.dir, 'data', 'm1'));
  const client = cluster.client('m1');
  await call(client, 'Connect', { user: 'ann' });

  // Keep both workers writing: node:cluster gives each new connection to the next worker.
  const posters = Array.from({ length: 4 }, () => authedChatClient(cluster.address('m1'), testKeys, { 'grpc.use_local_subchannel_pool': 1 }, credentialsFor(cluster.address('m1'))));
  t.teardown(() => posters.forEach((c) => c.close()));
  let writing = true;
  let n = 0;
  const load = Promise.all(
    posters.map(async (c) => {
      while (writing) await call(c, 'Post', { user: 'ann', id: `load-${n++}`, text: 'load' }).catch(() => undefined);
    }),
  );
  const workers = cluster.workerPids('m1');
  const victim = await waitFor('a worker to hold the room lock', () => {
    const holder = lockHolder(lockPath);
    return holder !== null && workers.includes(holder) ? holder : null;
  }, 20_000, 1);
  await killWhileHolding(lockPath, victim);
  writing = false;
  await load;

  await lockBrokenAndPostsTaken(t, cluster, victim);
});

t.test('a machine restarted after a power cut breaks the lock its dead writer left before its workers need it', async (t) => {
  const cluster = await startCluster({ machines: ['m1'], workers: 2, storage: { lockStaleMs: MINUTE }, quotas: RAISED_QUOTAS });
  t.teardown(() => cluster.teardown());
  const lockPath = roomLockPath(join(cluster.dir, 'data', 'm1'));
  await call(cluster.client('m1'), 'Connect', { user: 'ann' });
  await cluster.killMachine('m1');

  // A writer that died holding the lock, as the power cut could have left it.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const deadPid = Number(dead.stdout);
  fs.mkdirSync(lockPath);
  fs.writeFileSync(join(lockPath, 'pid'), String(deadPid));
  t.equal(lockHolder(lockPath), deadPid, 'the lock names the dead writer');

  await cluster.start('m1');
  await lockBrokenAndPostsTaken(t, cluster, deadPid);
});
