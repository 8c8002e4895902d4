/**
 * Power loss loses nothing that was acknowledged. Each machine's data dir is a
 * power-loss disk (test/tools/lazyfs): at a cut it keeps only what was synced, and
 * the machine boots anew (a new boot id). Clients post through every machine the
 * whole time, retrying each post with its id until it is acknowledged; after each
 * cut the machines come back by themselves (`fbs start`, nothing removed by hand),
 * and every acknowledged post is stored exactly once, the same on every machine.
 */
import t, { type Test } from 'tap';
import { lazyFsUnavailable } from '../../lib/chaos/lazy-mount';
import { checkAcked, Posters, startPowerCluster, type PowerCluster } from '../helpers/power';

const MACHINES = ['m1', 'm2', 'm3'];
const skip = lazyFsUnavailable();
let power: PowerCluster;
let posters: Posters;

t.before(async () => {
  if (skip) return;
  power = await startPowerCluster({ machines: MACHINES, workers: 2, guardians: 1, startMachines: false });
  posters = new Posters(power.cluster, 'p');
});
t.teardown(async () => {
  await posters?.stop().catch(() => undefined);
  await power?.teardown();
});

/** After the cuts (posting paused): every acknowledged post stored exactly once, every machine the same, and each shown once. */
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

t.test('a machine cut right after its data dir first synced a directory comes back by itself', { skip }, async (t) => {
  await Promise.all(['m1', 'm2'].map((m) => power.start(m)));
  // A fresh data dir: the incarnation file is made, then the first directory sync (the
  // first checkpoint's, or one of the files it needs) makes names durable.
  await power.arm('m3', { when: 'after', ops: 'fsyncdir', path: '^/$' });
  const starting = power.start('m3').catch((err: Error) => err);
  const cut = await power.struck('m3');
  t.comment(`m3 cut ${cut.at}: ${cut.droppedBytes} bytes in ${cut.droppedFiles} files dropped, ${cut.namesUndone} names undone`);
  await starting;
  await power.boot(['m3']);
  for (const [i, m] of MACHINES.entries()) {
    await posters.add(`poster${i}a`, m);
    await posters.add(`poster${i}b`, m);
  }
  await posters.more(30);
  await everyAckStored(t, 'a cut during the first start');
});

t.test('one machine cut while clients post loses nothing it acknowledged; its torn log record is cut off and counted', { skip }, async (t) => {
  await posters.more(60);
  // As a commit syncs its log record: the record is torn at a random byte, as by a disk that got that far.
  await power.arm('m2', { when: 'before', ops: 'fsync', path: '^/wal/\\d+\\.log$', tear: true, seed: 2 });
  const cut = await power.struck('m2');
  t.comment(`m2 cut ${cut.at}: ${cut.droppedBytes} bytes in ${cut.droppedFiles} files dropped, torn ${JSON.stringify(cut.torn)}`);
  t.match(cut.torn, { path: /^\/wal\// }, 'the cut tore a log record');
  const logsBefore = power.cluster.logs.length;
  await power.boot(['m2']);
  const repaired = power.cluster.logs.slice(logsBefore).find((l) => l.machine === 'm2' && l.msg === 'cut off a torn write-ahead log record');
  t.match(repaired, { bytes: cut.torn!.kept }, 'the restart cut the torn record off and says how many bytes');
  await posters.more(60);
  await everyAckStored(t, 'a cut of m2');
});

t.test('all three machines cut at once lose nothing they acknowledged', { skip }, async (t) => {
  await posters.more(60);
  const cuts = await power.cut(MACHINES, { tear: true, seed: 3 });
  t.comment(`cut: ${cuts.map((c, i) => `${MACHINES[i]} ${c.droppedBytes} bytes in ${c.droppedFiles} files, ${c.namesUndone} names`).join('; ')}`);
  const acked = posters.acked.size;
  await power.boot(MACHINES);
  await posters.more(60);
  await everyAckStored(t, `a cut of every machine (${acked} acknowledged before it)`);
});
