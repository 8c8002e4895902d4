/**
 * A worker reports an event loop stall as one structured line ('event loop delayed',
 * maxMs), which is how the fuzz proves that no request kept a worker busy past 1 s.
 * A worker paused (SIGSTOP) for 1.5 s stalls its loop exactly like a request busy that long.
 */
import tap from 'tap';
import { startCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';
const t = tap;

t.test('a worker stalled for 1.5 s logs an event loop delay of at least that', async (t) => {
  // The primary would take a worker silent for 2 s as hung: give it longer.
  const cluster = await startCluster({ machines: ['m1'], workers: 1, timing: { deadAfterMs: 10_000 } });
  t.teardown(() => cluster.teardown());
  const [pid] = cluster.workerPids('m1');
  const from = cluster.logs.length;
  process.kill(pid, 'SIGSTOP');
  await new Promise((resolve) => setTimeout(resolve, 1_500)); // the stall under test, not a wait for something
  process.kill(pid, 'SIGCONT');
  // Other, shorter delays may be reported too (a busy host): the stall is the one of a second or more.
  const line = await waitFor('the stall reported', () =>
    cluster.logs.slice(from).find((l) => l.msg === 'event loop delayed' && l.pid === pid && Number(l.maxMs) >= 1_000));
  t.ok(Number(line.maxMs) >= 1_400, `reported ${String(line.maxMs)} ms`);
  t.equal(line.role, 'worker');
});
