/**
 * The master machine keeps a warm standby (lib/control/standby-slot.ts): a second
 * `fbs start` standing by, its workers forked ahead and loaded. When the master is
 * SIGKILLed the standby takes charge the moment its link to the master breaks, the
 * workers it forked ahead serve (no node process starts on the users' path), and
 * the new master keeps a standby of its own again.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadConfig } from '../../lib/common/config';
import { metricSamples } from '../../lib/common/metrics-text';
import { serverProcesses } from '../../lib/common/processes';
import { WAITING_AHEAD } from '../../lib/server/worker';
import { FBS, startCluster, type TestCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const run = promisify(execFile);

/** m1's standby whose workers, forked ahead, all wait loaded: its pid and theirs. */
function warmStandby(cluster: TestCluster, masterPid: number, workers: number): { pid: number; workers: number[] } | undefined {
  const spares = serverProcesses(cluster.configFile, 'm1', masterPid).filter((p) => p.role === 'standby');
  const standby = spares.find((p) => p.slot === undefined);
  const waiting = cluster.logs.filter((l) => l.msg === WAITING_AHEAD && spares.some((p) => p.pid === l.pid && p.slot !== undefined)).map((l) => l.pid);
  return standby && waiting.length === workers ? { pid: standby.pid, workers: waiting } : undefined;
}

t.test('a killed master is followed by its warm standby, whose workers forked ahead serve; the new master keeps a standby again', async (t) => {
  const cluster = await startCluster({ machines: ['m1'], workers: 2 });
  t.teardown(() => cluster.teardown());
  t.ok(loadConfig(cluster.configFile).standby, 'the master machine keeps a standby by default');
  const master = (await cluster.status()).master!;
  const standby = await waitFor('a warm standby on m1', () => warmStandby(cluster, master.pid, 2), 60_000);
  t.ok(standby.workers.every((pid) => !serverProcesses(cluster.configFile, 'm1', master.pid).some((p) => p.pid === pid && p.role === 'worker')), 'its workers are not counted as the machine\'s workers');
  const metricsUrl = (await cluster.status()).machines.m1.metricsUrl;
  await waitFor('ftchat_standbys 1 on the master machine', async () => metricSamples(await (await fetch(metricsUrl)).text()).get('ftchat_standbys') === 1, 30_000);
  t.pass('an operator sees the standby in the metrics: ftchat_standbys 1');

  process.kill(master.pid, 'SIGKILL');
  const after = await waitFor('a new master and its workers serving', async () => {
    const s = await cluster.status();
    const workers = s.processes.filter((p) => p.role === 'worker' && p.state === 'up');
    return s.master && s.master.pid !== master.pid && workers.length === 2 ? { master: s.master, workers: workers.map((p) => p.pid) } : undefined;
  }, 60_000);
  t.equal(after.master.pid, standby.pid, 'the standby took charge');
  t.ok(after.master.term > master.term, `with a higher term (${master.term} -> ${after.master.term})`);
  t.same([...after.workers].sort(), [...standby.workers].sort(), 'the workers it forked ahead are the machine\'s workers now');

  const next = await waitFor('a new warm standby', () => warmStandby(cluster, after.master.pid, 2), 60_000);
  t.not(next.pid, standby.pid, 'a new one');

  const { stdout } = await run(process.execPath, [FBS, 'stop', '--machine', 'm1', '--config', cluster.configFile], { timeout: 30_000 });
  t.equal(stdout.trim(), 'stopped m1', 'fbs stop: the standby and its workers end by themselves on the clean stop, none is killed');
  t.same(cluster.pids('m1'), [], 'nothing of m1 is left');
});
