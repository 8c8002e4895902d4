/**
 * The operator's commands, as the interface contract words them: `fbs status
 * --json` lists every process with machine, role, pid, state, restarts and
 * heartbeat age, plus the master and its term; `fbs status` is a table; `fbs stop`
 * stops one machine's tree cleanly, and nothing revives it.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ClusterStatus } from '../../lib/admin/status';
import { FBS, startCluster, type TestCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const run = promisify(execFile);
const ROLES = ['master', 'replica', 'worker', 'replicator', 'supervisor', 'guardian'];

let cluster: TestCluster;
t.before(async () => {
  cluster = await startCluster({ machines: ['m1', 'm2'], workers: 2 });
});
t.teardown(() => cluster.teardown());

const fbs = async (...args: string[]): Promise<string> =>
  (await run(process.execPath, [FBS, ...args, '--config', cluster.configFile])).stdout;

t.test('fbs status --json lists every process of every machine with the contract fields', async (t) => {
  const status = await waitFor('every process up', async () => {
    const s = JSON.parse(await fbs('status', '--json')) as ClusterStatus;
    return s.processes.length === 12 && s.processes.every((p) => p.state === 'up') ? s : null;
  });
  for (const p of status.processes) {
    t.ok(ROLES.includes(p.role), `role ${p.role} is one of the contract's`);
    t.ok(['m1', 'm2'].includes(p.machine) && p.pid > 0 && Number.isInteger(p.restarts) && Number.isInteger(p.heartbeatAgeMs), `${p.machine} ${p.role} ${p.slot}: fields`);
  }
  const count = (m: string, role: string): number => status.processes.filter((p) => p.machine === m && p.role === role).length;
  t.same(
    [count('m1', 'master'), count('m1', 'worker'), count('m1', 'replicator'), count('m1', 'replica')],
    [1, 2, 1, 2],
    'm1: master, 2 workers, replicator, 2 replicas',
  );
  t.same(
    [count('m2', 'supervisor'), count('m2', 'worker'), count('m2', 'replicator'), count('m2', 'guardian')],
    [1, 2, 1, 2],
    'm2: supervisor, 2 workers, replicator, 2 guardians',
  );
  t.equal(status.master?.machine, 'm1');
  t.ok((status.master?.term ?? 0) >= 1, 'the master has a term');

  const table = await fbs('status');
  t.match(table, /^master: m1 pid \d+, term \d+$/m);
  for (const role of ROLES) t.match(table, new RegExp(`^m[12]\\s+${role}\\s`, 'm'), `the table lists the ${role}`);
});

t.test('fbs stop stops one machine cleanly, and its guardians do not revive it', async (t) => {
  t.ok(cluster.pids('m2').length > 0, 'm2 runs');
  const out = await fbs('stop', '--machine', 'm2');
  t.match(out, /stopped m2/);
  t.same(cluster.pids('m2'), [], 'no process of m2 is left');
  const record = JSON.parse(readFileSync(join(cluster.dir, 'data', 'm2', 'primary.json'), 'utf8'));
  t.equal(record.pid, 0, 'the machine is marked stopped, so nothing takes over');
  const s = JSON.parse(await fbs('status', '--json')) as ClusterStatus;
  t.match(s.processes.find((p) => p.machine === 'm2' && p.role === 'supervisor'), { state: 'down' });
  t.ok(s.processes.filter((p) => p.machine === 'm1').every((p) => p.state === 'up'), 'm1 is untouched');
});
