/**
 * Power loss at the moments storage is most exposed, each struck at the same step
 * every run (an armed cut of test/tools/lazyfs): right after a checkpoint became
 * durable, at the first commit into a new log segment, in the middle of a catch-up,
 * and in the middle of the first start over an old data dir (room files only). Small
 * log segments make rotations come often. After each cut the machine comes back by itself, and every acknowledged
 * post is stored exactly once, on every machine alike, and shown once to a reader
 * through the origin index.
 */
import t, { type Test } from 'tap';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { lazyFsUnavailable } from '../../lib/chaos/lazy-mount';
import { checkAcked, Posters, startPowerCluster, type PowerCluster } from '../helpers/power';

const MACHINES = ['m1', 'm2', 'm3'];
const skip = lazyFsUnavailable();
let power: PowerCluster;
let posters: Posters;

t.before(async () => {
  if (skip) return;
  power = await startPowerCluster({ machines: MACHINES, workers: 2, guardians: 1, storage: { walSegmentBytes: 64 << 10 } });
  posters = new Posters(power.cluster, 'q');
  for (const [i, m] of MACHINES.entries()) {
    await posters.add(`writer${i}a`, m);
    await posters.add(`writer${i}b`, m);
  }
});
t.teardown(async () => {
  await posters?.stop().catch(() => undefined);
  await power?.teardown();
});

async function everyAckStored(t: Test, what: string): Promise<void> {
  await posters.stop();
  const r = await checkAcked(power.cluster, MACHINES, posters);
  t.same(r.missing, [], `every acknowledged post is stored after ${what} (${posters.acked.size} checked), the same on every machine`);
  t.same(r.twice, [], 'none twice');
  for (const [m, seen] of Object.entries(r.readers)) {
    t.same({ missing: seen.missing, twice: seen.twice }, { missing: [], twice: [] }, `a reader on ${m} is shown each exactly once (${seen.shown} posts, through the origin index)`);
  }
  posters.resume();
}

const describe = (c: { at?: string; droppedBytes: number; droppedFiles: number; namesUndone: number }): string =>
  `cut ${c.at}: ${c.droppedBytes} bytes in ${c.droppedFiles} files dropped, ${c.namesUndone} names undone`;

t.test('a cut right after a checkpoint became durable loses nothing acknowledged', { skip }, async (t) => {
  await posters.more(30);
  // After a power cut, the first load replays the log into the room files (their pages unsynced
  // again) and writes a checkpoint that names them: cut right after that checkpoint is durable.
  await power.cut(['m1'], { tear: true, seed: 11 });
  await power.remount('m1');
  await power.arm('m1', { when: 'after', following: [{ ops: 'rename', path: '^/checkpoint$' }], ops: 'fsyncdir', path: '^/$' });
  const starting = power.start('m1').catch((err: Error) => err);
  const cut = await power.struck('m1');
  t.comment(`m1 ${describe(cut)}`);
  await starting;
  await power.boot(['m1']);
  await posters.more(30);
  await everyAckStored(t, 'a cut after a checkpoint');
});

t.test('a cut at the first commit into a new log segment loses nothing acknowledged', { skip }, async (t) => {
  await posters.more(30);
  // A new segment's third write is the second commit's record: the first commit in it was acknowledged.
  await power.arm('m2', { when: 'before', ops: 'write', path: '^/wal/(?!0{12})\\d{12}\\.log$', count: 3 });
  const cut = await power.struck('m2');
  t.comment(`m2 ${describe(cut)}`);
  await power.boot(['m2']);
  await posters.more(30);
  await everyAckStored(t, 'a cut at a log rotation');
});

t.test('a cut in the middle of a catch-up loses nothing, and the catch-up completes after the boot', { skip }, async (t) => {
  await power.cut(['m3']);
  await posters.more(300); // while m3 is off: its posters retry, the others' posts are what it must catch up on
  await power.remount('m3');
  await power.arm('m3', { when: 'after', ops: 'fsync', path: '^/wal/', count: 2, tear: true, seed: 13 });
  const starting = power.start('m3').catch((err: Error) => err);
  const cut = await power.struck('m3');
  t.comment(`m3 ${describe(cut)}`);
  await starting;
  await power.boot(['m3']);
  await posters.more(30);
  await everyAckStored(t, 'a cut during a catch-up');
});

t.test('a cut during the first start over an old data dir (room files only) loses nothing', { skip }, async (t) => {
  await posters.more(30);
  await power.cut(['m2']);
  await power.disks.m2.unmount();
  // What an older release left: room files, no log, index, checkpoint or incarnation.
  const backing = power.disks.m2.backing;
  for (const name of readdirSync(backing)) if (name !== 'rooms') rmSync(join(backing, name), { recursive: true, force: true });
  await power.disks.m2.mount();
  // The one-shot builder scans the room files and writes the first index and checkpoint: cut once that checkpoint is durable.
  await power.arm('m2', { when: 'after', following: [{ ops: 'rename', path: '^/checkpoint$' }], ops: 'fsyncdir', path: '^/$' });
  const starting = power.start('m2').catch((err: Error) => err);
  const cut = await power.struck('m2');
  t.comment(`m2 ${describe(cut)}`);
  await starting;
  await power.boot(['m2']);
  await posters.more(30);
  await everyAckStored(t, 'a cut during an upgrade');
});
