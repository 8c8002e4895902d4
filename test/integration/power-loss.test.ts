/**
 * Power loss loses nothing that was acknowledged. Each machine's data dir is a
 * power-loss disk (test/tools/lazyfs): at a cut it keeps only what was synced, and
 * the machine boots anew (a new boot id). Clients post through every machine the
 * whole time, retrying each post with its id until it is acknowledged; after each
 * cut the machines come back by themselves (`fbs start`, nothing removed by hand),
 * and every acknowledged post is stored exactly once, the same on every machine.
 */
import t from 'tap';
import { lazyFsUnavailable } from '../../lib/chaos/lazy-mount';
import { addPosters, describeCut, everyAckStored, POWER_MACHINES, powerRig } from '../helpers/power';

const skip = lazyFsUnavailable();
const rig = skip ? null : powerRig(t, 'p', { startMachines: false });

t.test('a machine cut right after its data dir first synced a directory comes back by itself', { skip }, async (t) => {
  const { power, posters } = rig!;
  await Promise.all(['m1', 'm2'].map((m) => power.start(m)));
  // A fresh data dir: the incarnation file is made, then the first directory sync (the
  // first checkpoint's, or one of the files it needs) makes names durable.
  t.comment(describeCut('m3', await power.cutDuringStart('m3', { when: 'after', ops: 'fsyncdir', path: '^/$' })));
  await addPosters(posters);
  await posters.more(30);
  await everyAckStored(t, rig!, 'a cut during the first start');
});

t.test('one machine cut while clients post loses nothing it acknowledged; its torn log record is cut off and counted', { skip }, async (t) => {
  const { power, posters } = rig!;
  await posters.more(60);
  // As a commit syncs its log record: the record is torn at a random byte, as by a disk that got that far.
  await power.arm('m2', { when: 'before', ops: 'fsync', path: '^/wal/\\d+\\.log$', tear: true, seed: 2 });
  const cut = await power.struck('m2');
  t.comment(describeCut('m2', cut));
  t.match(cut.torn, { path: /^\/wal\// }, 'the cut tore a log record');
  const logsBefore = power.cluster.logs.length;
  await power.boot(['m2']);
  const repaired = power.cluster.logs.slice(logsBefore).find((l) => l.machine === 'm2' && l.msg === 'cut off a torn write-ahead log record');
  t.match(repaired, { bytes: cut.torn!.kept }, 'the restart cut the torn record off and says how many bytes');
  await posters.more(60);
  await everyAckStored(t, rig!, 'a cut of m2');
});

t.test('all three machines cut at once lose nothing they acknowledged', { skip }, async (t) => {
  const { power, posters } = rig!;
  await posters.more(60);
  const cuts = await power.cut(POWER_MACHINES, { tear: true, seed: 3 });
  for (const [i, c] of cuts.entries()) t.comment(describeCut(POWER_MACHINES[i], c));
  const acked = posters.acked.size;
  await power.boot(POWER_MACHINES);
  await posters.more(60);
  await everyAckStored(t, rig!, `a cut of every machine (${acked} acknowledged before it)`);
});
