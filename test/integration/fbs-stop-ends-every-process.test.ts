/**
 * `fbs stop` ends every process of the machine, even a child that does not answer:
 * a worker paused with SIGSTOP cannot act on SIGTERM (and its primary waits for
 * it), so after the grace period stop kills whatever of the machine still runs,
 * found by /proc. Another cluster's machine of the same name is left alone. The
 * target's failure timeout is long, so that its primary does not kill the paused
 * worker as hung before stop gets to it (on a loaded machine, starting `fbs stop`
 * alone can take longer than the default 3 s).
 */
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { basename, dirname } from 'node:path';
import { promisify } from 'node:util';
import { serverPids } from '../../lib/common/processes';
import { isAlive } from '../../lib/common/proc-stat';
import { FBS, startCluster, type TestCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const run = promisify(execFile);
const PROCESSES = 6; // primary, 2 workers, replicator, 2 guardians

let target: TestCluster;
let bystander: TestCluster;
t.before(async () => {
  // No warm standby: its processes come and go, and the count below waits for a settled tree (warm-standby.test.ts stops one).
  target = await startCluster({ workers: 2, timing: { deadAfterMs: 60_000 }, standby: false });
  bystander = await startCluster({ workers: 2, standby: false });
});
t.teardown(async () => {
  await target?.teardown();
  await bystander?.teardown();
});

t.test('fbs stop ends every process of the machine, even a child that does not answer', async (t) => {
  const all = await waitFor(`${PROCESSES} processes of m1`, () => target.pids('m1').length === PROCESSES && target.pids('m1'), 15_000);
  const others = await waitFor(`${PROCESSES} processes of the other m1`, () => bystander.pids('m1').length === PROCESSES && bystander.pids('m1'), 15_000);
  const paused = target.workerPids('m1')[0];
  t.ok(all.includes(paused), 'the paused worker is one of the machine');
  process.kill(paused, 'SIGSTOP');

  const started = Date.now();
  const { stdout } = await run(process.execPath, [FBS, 'stop', '--machine', 'm1', '--config', target.configFile], { timeout: 30_000 });
  t.match(stdout, /^stopped m1; killed \d+ that did not stop within 5 s/, 'stop says it had to kill');
  t.match(stdout, new RegExp(`worker \\d pid ${paused} \\(paused\\)`), 'the paused worker is among them, named');
  await waitFor('every process of m1 gone', () => all.every((pid) => !isAlive(pid)), 2_000);
  t.same(target.pids('m1'), [], 'nothing of m1 is left, not even a process started meanwhile');
  t.ok(Date.now() - started < 15_000, `stop took ${Date.now() - started} ms`);
  t.same(bystander.pids('m1'), others, "the other cluster's m1 is untouched");
  t.ok(others.every(isAlive), 'every one of them still runs');
});

t.test('a process of the machine is known by its --config written any way; other fbs commands are not', async (t) => {
  // Stand-ins with a server's command line, run where a relative config path resolves.
  const standIn = (...args: string[]) => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)', 'bin/fbs', ...args], { cwd: dirname(target.configFile), stdio: 'ignore' });
    t.teardown(() => child.kill('SIGKILL'));
    return child.pid as number;
  };
  const relative = standIn('start', '--machine', 'm1', '--config', basename(target.configFile));
  const equals = standIn('guardian', '--machine', 'm1', `--config=./${basename(target.configFile)}`);
  const dump = standIn('dump', '--machine', 'm1', '--config', target.configFile);
  const found = await waitFor('the stand-ins', () => {
    const pids = serverPids(target.configFile, 'm1');
    return pids.includes(relative) && pids.includes(equals) && pids;
  });
  t.notOk(found.includes(dump), 'a dump of the machine is not one of its processes');
  t.notOk(serverPids(bystander.configFile, 'm1').includes(relative), "nor is it the other cluster's");
});
