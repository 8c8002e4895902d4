/**
 * The operator's commands, as the interface contract words them: `fbs status
 * --json` lists every process with machine, role, pid, state, restarts and
 * heartbeat age, plus the master and its term; `fbs status` is a table; `fbs stop`
 * stops one machine's tree cleanly, and nothing revives it. Each process shows its
 * slot (a number), uptime and address, and its restarts counted per slot across
 * primaries; the table says what each role is; `--watch` redraws it; with every
 * machine down status exits non-zero and says what to try.
 */
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ClusterStatus, ProcessView } from '../../lib/admin/status';
import { loadConfig } from '../../lib/common/config';
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
  const config = loadConfig(cluster.configFile);
  const listens = (p: ProcessView): string => {
    const m = config.machines[p.machine];
    if (p.role === 'worker') return `127.0.0.1:${m.port}`;
    if (p.role === 'replicator') return `127.0.0.1:${m.peerPort}`;
    return `127.0.0.1:${m.adminPort + (p.role === 'replica' || p.role === 'guardian' ? 1 + (p.slot ?? NaN) : 0)}`;
  };
  for (const p of status.processes) {
    t.ok(ROLES.includes(p.role), `role ${p.role} is one of the contract's`);
    t.ok(['m1', 'm2'].includes(p.machine) && p.pid > 0 && Number.isInteger(p.restarts) && Number.isInteger(p.heartbeatAgeMs), `${p.machine} ${p.role} ${p.slot}: fields`);
    const primary = p.role === 'master' || p.role === 'supervisor';
    t.ok(primary ? p.slot === null : Number.isInteger(p.slot), `${p.machine} ${p.role}: the slot is a number (none for a primary)`);
    t.ok(Number.isInteger(p.uptimeMs) && p.uptimeMs >= 0, `${p.machine} ${p.role} ${p.slot}: its uptime`);
    t.equal(p.address, listens(p), `${p.machine} ${p.role} ${p.slot}: where it listens`);
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
  t.match(table, /^MACHINE\s+ROLE\s+SLOT\s+PID\s+STATE\s+HEARTBEAT\s+RESTARTS\s+UPTIME\s+ADDRESS$/m, 'uptime and address columns');
  t.match(table, /^\s+replica\s+a guardian of the master machine/m, 'the legend says what a replica is');
  for (const role of ROLES) t.match(table, new RegExp(`^\\s+${role}\\s{2,}\\S`, 'm'), `the legend names the ${role}`);
});

t.test('restarts are counted per slot across primaries: a new master\'s re-forked worker keeps its count', async (t) => {
  const up = (s: ClusterStatus, role: string, slot: number | null) => s.processes.find((p) => p.machine === 'm1' && p.role === role && p.slot === slot && p.state === 'up');
  const since = new Date().toISOString(); // log lines carry ISO times
  const before = JSON.parse(await fbs('status', '--json')) as ClusterStatus;
  const worker = up(before, 'worker', 0)!;
  process.kill(worker.pid, 'SIGKILL');
  const once = await waitFor('worker 0 re-forked', async () => {
    const s = JSON.parse(await fbs('status', '--json')) as ClusterStatus;
    const w = up(s, 'worker', 0);
    return w && w.pid !== worker.pid && s;
  });
  t.equal(up(once, 'worker', 0)?.restarts, worker.restarts + 1, 'its primary counts the restart');
  const master = up(once, 'master', null)!;
  process.kill(master.pid, 'SIGKILL'); // its children die with it; a replica starts a new master
  const after = await waitFor('a new master with its children up', async () => {
    const s = JSON.parse(await fbs('status', '--json')) as ClusterStatus;
    const m = up(s, 'master', null);
    return m && m.pid !== master.pid && up(s, 'worker', 0) && up(s, 'worker', 1) && up(s, 'replicator', 0) && s;
  }, 60_000);
  t.equal(up(after, 'master', null)?.restarts, master.restarts + 1, 'the master counts its own restart');
  // A slot's count is its process's deaths (docs/operations.md): each re-fork its primaries logged (ours above, and
  // any a loaded host caused), and the one with the master, whether the new master's standby forked it ahead or not.
  const reforks = (slot: number): number => cluster.logs.filter((l) => l.machine === 'm1' && l.msg === 'worker died; re-forking' && l.child === `worker:${slot}` && String(l.time) >= since).length;
  t.equal(up(after, 'worker', 0)?.restarts, worker.restarts + reforks(0) + 1, `worker 0 keeps its count, plus its ${reforks(0)} re-fork(s) and its death with the master`);
  t.equal(up(after, 'worker', 1)?.restarts, up(before, 'worker', 1)!.restarts + reforks(1) + 1, 'worker 1: one more, with the master');
  if (!t.passing()) t.comment(cluster.logs.filter((l) => l.machine === 'm1' && /died|exited|killing|in charge|forked|standby/.test(l.msg)).map((l) => JSON.stringify(l)).join('\n'));
});

t.test('fbs status --watch redraws the table in place', async (t) => {
  const child = spawn(process.execPath, [FBS, 'status', '--watch', '--config', cluster.configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const frames = (): string[] => out.split('\x1b[H').filter((f) => f.includes('MACHINE'));
  await waitFor('two frames', () => frames().length >= 2);
  t.ok(frames().every((f) => /^m1\s+master\s/m.test(f)), 'each frame is the whole table');
  t.ok(out.startsWith('\x1b[H\x1b[2J'), 'the screen is cleared once; each frame starts from its top-left corner');
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

t.test('fbs status exits non-zero with a hint when no machine answers', async (t) => {
  await fbs('stop', '--machine', 'm1');
  const down = await run(process.execPath, [FBS, 'status', '--config', cluster.configFile]).then(
    () => null,
    (err: { code: number; stdout: string; stderr: string }) => err,
  );
  t.equal(down?.code, 3, 'exit status 3');
  t.match(down?.stdout, /^master: DOWN$/m, 'no master, and no pid 0 for one');
  t.match(down?.stderr, /is it running\? start it with `npm start`/, 'the hint');
});
