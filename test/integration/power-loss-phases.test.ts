/**
 * Power loss at the moments storage is most exposed, each struck at the same step
 * every run (an armed cut of test/tools/lazyfs): right after a checkpoint became
 * durable, and at the first commit into a new log segment (small segments make
 * rotations come often). After each cut the machine comes back by itself, and every
 * acknowledged post is stored exactly once, on every machine alike, and shown once
 * to a reader through the origin index. (A catch-up and an upgrade:
 * power-loss-catch-up.test.ts.)
 */
import t from 'tap';
import { lazyFsUnavailable } from '../../lib/chaos/lazy-mount';
import { describeCut, everyAckStored, powerRig } from '../helpers/power';

const skip = lazyFsUnavailable();
const rig = skip ? null : powerRig(t, 'q', { storage: { walSegmentBytes: 64 << 10 } });

t.test('a cut right after a checkpoint became durable loses nothing acknowledged', { skip }, async (t) => {
  const { power, posters } = rig!;
  await posters.more(30);
  // After a power cut, the first load replays the log into the room files (their pages unsynced
  // again) and writes a checkpoint that names them: cut right after that checkpoint is durable.
  await power.cut(['m1'], { tear: true, seed: 11 });
  await power.remount('m1');
  t.comment(describeCut('m1', await power.cutDuringStart('m1', { when: 'after', following: [{ ops: 'rename', path: '^/checkpoint$' }], ops: 'fsyncdir', path: '^/$' })));
  await posters.more(30);
  await everyAckStored(t, rig!, 'a cut after a checkpoint');
});

t.test('a cut at the first commit into a new log segment loses nothing acknowledged', { skip }, async (t) => {
  const { power, posters } = rig!;
  await posters.more(30);
  // A new segment's third write is the second commit's record: the first commit in it was acknowledged.
  await power.arm('m2', { when: 'before', ops: 'write', path: '^/wal/(?!0{12})\\d{12}\\.log$', count: 3 });
  t.comment(describeCut('m2', await power.struck('m2')));
  await power.boot(['m2']);
  await posters.more(30);
  await everyAckStored(t, rig!, 'a cut at a log rotation');
});
