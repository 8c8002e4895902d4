/**
 * A real full disk: m2's data dir is a small tmpfs. Filled up, it refuses posts
 * (there and replicated from m1) with UNAVAILABLE and one clear line, keeps
 * serving reads, and no process restarts; once space is freed, writes resume by
 * themselves, m2 catches up with m1, and every acknowledged post is stored once.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { postEventId } from '../../lib/core/event';
import { call, converged, dumpEvents, RAISED_QUOTAS, startCluster, type TestCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const SIZE = '24m';

/** Fills the file system holding `file` to its last byte; returns the bytes written. */
function fill(file: string): number {
  const fd = openSync(file, 'a');
  const chunk = Buffer.alloc(64 << 10, 0x78);
  let total = 0;
  try {
    for (let size = chunk.length; size >= 1; ) {
      try {
        total += writeSync(fd, chunk, 0, size);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        size = Math.floor(size / 2); // the last page's slack, too
      }
    }
  } finally {
    closeSync(fd);
  }
  return total;
}

/** Why a tmpfs cannot be mounted here (not root, a container without CAP_SYS_ADMIN), or false. */
function cannotMount(): string | false {
  const probe = mkdtempSync(join(tmpdir(), 'ftchat-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe]);
    return false;
  } catch (err) {
    return `mounting a tmpfs is not permitted here (${String((err as Error).message).split('\n')[0]})`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

const skip = cannotMount();
let cluster: TestCluster;
let mountPoint = '';
let mounted = false;
t.before(async () => {
  if (skip) return;
  cluster = await startCluster({ machines: ['m1', 'm2'], startMachines: false, quotas: RAISED_QUOTAS });
  mountPoint = join(cluster.dir, 'data', 'm2');
  mkdirSync(mountPoint, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE}`, 'tmpfs', mountPoint]);
  mounted = true;
  await Promise.all(['m1', 'm2'].map((m) => cluster.start(m)));
});
t.teardown(async () => {
  if (!cluster) return;
  // The processes first (they hold files there), then the mount, then the temp dir.
  for (const m of ['m1', 'm2']) await cluster.killMachine(m).catch(() => undefined);
  if (mounted) execFileSync('umount', ['-l', mountPoint]);
  await cluster.teardown();
});

type Outcome = 'ok' | { code: number; details: string };

async function post(c: ReturnType<TestCluster['client']>, user: string, id: string): Promise<Outcome> {
  try {
    await call(c, 'Post', { user, id, text: id });
    return 'ok';
  } catch (err) {
    const e = err as grpc.ServiceError;
    return { code: e.code, details: e.details };
  }
}

t.test('a full disk refuses writes, keeps reads, and recovers by itself', { skip }, async (t) => {
  const m1 = cluster.client('m1');
  const m2 = cluster.client('m2');
  await call(m2, 'Connect', { user: 'alice' });
  await call(m1, 'Connect', { user: 'bob' });
  // bob is made on m1: m2 knows him once replication brought his room over.
  await waitFor('bob replicated to m2', async () => {
    try {
      await call(m2, 'Join', { user: 'alice', room: 'bob' });
      return true;
    } catch (err) {
      if ((err as grpc.ServiceError).code === grpc.status.NOT_FOUND) return false;
      throw err;
    }
  });
  const acked = new Set<string>();
  for (let i = 0; i < 5; i++) if ((await post(m2, 'alice', `before-${i}`)) === 'ok') acked.add(`before-${i}`);
  t.equal(acked.size, 5, 'posts are stored while there is room');
  await converged(cluster, ['m1', 'm2']);
  const pids = cluster.pids('m2').sort();

  const filler = join(mountPoint, 'filler');
  t.ok(fill(filler) > 0, 'the data dir is full');
  // The last pages' slack may still take a post or two: post until refused.
  const refused: { id: string; code: number; details: string }[] = [];
  for (let i = 0; i < 200 && refused.length < 5; i++) {
    const id = `full-${i}`;
    const r = await post(m2, 'alice', id);
    if (r === 'ok') acked.add(id);
    else refused.push({ id, ...r });
  }
  t.equal(refused.length, 5, 'posts are refused on the full disk');
  t.comment(`refused: ${refused[0]?.details}`);
  for (const r of refused) {
    t.equal(r.code, grpc.status.UNAVAILABLE, `${r.id} refused with UNAVAILABLE`);
    t.match(r.details, /^storage unavailable: .*ENOSPC/, 'one clear line saying why');
    t.notOk(r.details.includes('\n'), 'one line');
  }
  // m1 accepts posts; m2's replicator cannot store them yet.
  const fromM1 = ['m1-0', 'm1-1', 'm1-2'];
  for (const id of fromM1) t.equal(await post(m1, 'bob', id), 'ok', `${id} stored on m1`);
  await cluster.waitForLog('m2 refusing a replicated append', (l) => l.machine === 'm2' && l.msg === 'replicated append failed');

  const tl = await call(m2, 'Timeline', { user: 'alice', limit: 100 });
  const shown = new Set((tl.events as { id: string }[]).map((e) => e.id));
  t.ok([...acked].every((id) => shown.has(postEventId('alice', id))), 'Timeline is served on the full disk, with every acknowledged post');
  const list = await call(m2, 'List', { user: 'alice' });
  t.ok(JSON.stringify(list).includes('bob'), 'List is served on the full disk');
  t.same(cluster.pids('m2').sort(), pids, 'no m2 process restarted');
  t.notOk(cluster.logs.some((l) => l.msg === 'fatal storage error; restarting'), 'no fatal storage error');

  rmSync(filler);
  // Writes resume by themselves: the refused posts, retried with the same ids, are stored.
  for (const r of refused) {
    await waitFor(`${r.id} stored after space returned`, async () => (await post(m2, 'alice', r.id)) === 'ok', 30_000, 200);
    acked.add(r.id);
  }
  const dump = await converged(cluster, ['m1', 'm2'], 60_000);
  const posts = dumpEvents(dump).filter((e) => e.kind === 'post');
  const count = new Map<string, number>();
  for (const e of posts) count.set(e.id, (count.get(e.id) ?? 0) + 1);
  for (const id of acked) t.equal(count.get(postEventId('alice', id)), 1, `${id} stored once`);
  for (const id of fromM1) t.equal(count.get(postEventId('bob', id)), 1, `${id} stored once`);
  const slots = posts.map((e) => `${e.origin}#${String(e.seq)}`);
  t.equal(new Set(slots).size, slots.length, 'no (origin, seq) was handed out twice');
  t.same(cluster.pids('m2').sort(), pids, 'still no m2 process restarted');
});

t.test('a machine started on a full disk waits for space, then serves, without a restart', { skip }, async (t) => {
  await cluster.stop('m2');
  const filler = join(mountPoint, 'filler');
  t.ok(fill(filler) > 0, 'the data dir is full');
  const since = cluster.logs.length;
  const started = cluster.start('m2'); // resolves once m2 serves
  const waiting = await cluster.waitForLog('m2 waiting for space', (l) =>
    cluster.logs.indexOf(l) >= since && l.machine === 'm2' && l.msg === 'cannot start: the data dir refuses writes; waiting for space');
  rmSync(filler);
  await started;
  const fresh = cluster.logs.slice(since).filter((l) => l.machine === 'm2');
  const inCharge = fresh.find((l) => l.msg.endsWith(' in charge'));
  t.equal(inCharge?.pid, waiting.pid, 'the primary that waited is the one that took charge');
  t.notOk(fresh.some((l) => / died; /.test(l.msg)), 'nothing of m2 died meanwhile');
  const m2 = cluster.client('m2');
  await call(m2, 'Post', { user: 'alice', id: 'after-start', text: 'after a start on a full disk' });
  await converged(cluster, ['m1', 'm2'], 60_000);
});
