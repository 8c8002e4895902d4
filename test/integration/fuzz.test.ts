/**
 * The short fuzz CI runs (issue 11): about 60 s of random and edge-case requests to
 * every RPC of every service of a real 3-machine cluster, garbage on every port and a
 * faulty replication peer; then no process died, the dumps are byte-identical and no
 * event loop stalled past 1 s. FTCHAT_FUZZ_SEED replays a seed; the seed is printed.
 */
import tap from 'tap';
import { randomSeed } from '../../lib/chaos/rng';
import { runFuzz } from '../fuzz/cluster-fuzz';
const t = tap;

t.test('a minute of hostile input neither kills, splits nor stalls the cluster', async (t) => {
  const seed = process.env.FTCHAT_FUZZ_SEED ? Number(process.env.FTCHAT_FUZZ_SEED) : randomSeed();
  t.comment(`fuzz seed ${seed} (replay: FTCHAT_FUZZ_SEED=${seed}, or npm run fuzz -- --duration 60 --seed ${seed})`);
  const report = await runFuzz({ durationMs: 60_000, seed, say: (l) => t.comment(l) });
  const sent = Object.values(report.sent).reduce((n, k) => n + k.n, 0);
  t.comment(`${sent} requests of ${Object.keys(report.sent).length} kinds; faulty peer: ${JSON.stringify(report.fakePeer)}; longest loop delay ${report.maxLoopDelayMs} ms`);
  t.ok(Object.keys(report.sent).filter((k) => k.startsWith('Chat.')).length >= 8, 'every Chat RPC was driven');
  t.ok(report.fakePeer.events > 0, 'the replicators pulled from the faulty peer');
  t.same(report.violations, [], `seed ${seed}: no violations`);
});
