/**
 * Power loss in the middle of a machine's catch-up from its peers, and of the first
 * start over an old data dir (room files only), each struck at the same step every
 * run (an armed cut of test/tools/lazyfs). After each cut the machine comes back by
 * itself and completes what it was doing, and every acknowledged post is stored
 * exactly once, on every machine alike, and shown once to a reader through the
 * origin index.
 */
import t from 'tap';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { lazyFsUnavailable } from '../../lib/chaos/lazy-mount';
import { describeCut, everyAckStored, POWER_MACHINES, powerRig } from '../helpers/power';
import { converged } from '../helpers/server';

const skip = lazyFsUnavailable();
const rig = skip ? null : powerRig(t, 'r');

t.test('a cut in the middle of a catch-up loses nothing, and the catch-up completes after the boot', { skip }, async (t) => {
  const { power, posters } = rig!;
  await power.cut(['m3']);
  await posters.more(300); // while m3 is off: its posters retry, the others' posts are what it must catch up on
  await power.remount('m3');
  t.comment(describeCut('m3', await power.cutDuringStart('m3', { when: 'after', ops: 'fsync', path: '^/wal/', count: 2, tear: true, seed: 13 })));
  await posters.more(30);
  await everyAckStored(t, rig!, 'a cut during a catch-up');
});

t.test('a cut during the first start over an old data dir (room files only) loses nothing', { skip }, async (t) => {
  const { power, posters } = rig!;
  await posters.more(30);
  // An older release synced its room files before it acknowledged; this one acknowledges once the
  // write-ahead log is synced, so a post m2 acknowledged just before the cut may lie only in the log
  // this test strips. Its peers hold every such post once the dumps converge.
  await posters.stop();
  await converged(power.cluster, POWER_MACHINES, 120_000);
  await power.cut(['m2']);
  posters.resume();
  await power.disks.m2.unmount();
  // What an older release left: room files, no log, index, checkpoint or incarnation.
  const backing = power.disks.m2.backing;
  for (const name of readdirSync(backing)) if (name !== 'rooms') rmSync(join(backing, name), { recursive: true, force: true });
  await power.disks.m2.mount();
  // The one-shot builder scans the room files and writes the first index and checkpoint: cut once that checkpoint is durable.
  t.comment(describeCut('m2', await power.cutDuringStart('m2', { when: 'after', following: [{ ops: 'rename', path: '^/checkpoint$' }], ops: 'fsyncdir', path: '^/$' })));
  await posters.more(30);
  await everyAckStored(t, rig!, 'a cut during an upgrade');
});
