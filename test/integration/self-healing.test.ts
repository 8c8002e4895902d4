/**
 * The self-healing promises (issue: "self-healing process tree"): for every role
 * on every machine, SIGKILL it while a user posts and another reads, and the
 * process tree heals itself — every role back at full count in `fbs status` —
 * while every post is stored once and the reader sees every post once.
 */
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { spawnFbc } from '../helpers/fbc';
import { serverProcesses } from '../../lib/common/processes';
import type { ClusterStatus } from '../../lib/admin/status';
import { FBS, startCluster, type TestCluster, dumpEvents } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { atCount, census, describeStatus as describe } from '../helpers/full-count';

type Status = ClusterStatus;

let cluster: TestCluster;
t.before(async () => {
  cluster = await startCluster({ machines: ['m1', 'm2'], workers: 2 });
  await waitFor('every process up', async () => allUp(await status()));
});
t.teardown(() => cluster.teardown());

const status = (): Promise<Status> => cluster.status();

const FULL = { 'm1/master': 1, 'm2/supervisor': 1, 'm1/worker': 2, 'm2/worker': 2, 'm1/replica': 2, 'm2/guardian': 2 };
const allUp = (s: Status): boolean => atCount(s, FULL);

function kill(pids: number[], signal: NodeJS.Signals = 'SIGKILL'): void {
  // process.kill(0) signals our own process group: a SIGSTOP there stopped the whole test run.
  for (const pid of pids) {
    if (!(pid > 1)) throw new Error(`refusing to signal pid ${pid}`);
    process.kill(pid, signal);
  }
}

/**
 * A writer and a reader on `machine`, both in chat mode; `fault` runs after some
 * posts and returns the pids it took down. Then more posts; then everything is checked.
 */
async function healsWhilePosting(
  t: Test,
  machine: string,
  name: string,
  fault: (s: Status) => Promise<number[]>,
): Promise<void> {
  const servers = ['-s', cluster.address(machine), '-c', cluster.configFile];
  const writer = spawnFbc(t, ['-u', `w_${name}`, ...servers]);
  await writer.waitOut('writer connected', (l) => l.startsWith('connected as'));
  const reader = spawnFbc(t, ['-u', `r_${name}`, ...servers]);
  await reader.waitOut('reader connected', (l) => l.startsWith('connected as'));
  reader.send(`join w_${name}`);
  await reader.waitOut('reader joined', (l) => l.includes(`joined w_${name}`));
  reader.send('chat');
  writer.send('chat');
  await reader.waitOut('reader in chat mode', (l) => l.startsWith('chat mode'));
  await writer.waitOut('writer in chat mode', (l) => l.startsWith('chat mode'));

  const before = await status();
  const posts = Array.from({ length: 24 }, (_, i) => `post ${i + 1}`);
  let victims: number[] = [];
  for (const [i, text] of posts.entries()) {
    if (i === 8) victims = await fault(before);
    writer.send(text);
    // Seeing its own post is the writer's proof that it is stored.
    await writer.waitOut(`the writer's echo of "${text}"`, (l) => l === `w_${name}: ${text}`);
  }

  let last = '';
  const healed = await waitFor('the process tree healed', async () => {
    const s = await status();
    last = describe(s);
    return allUp(s) && victims.every((v) => !s.processes.some((p) => p.pid === v)) ? s : null;
  }).catch((err: Error) => {
    throw new Error(`${err.message}; at the last look: ${last}`);
  });
  t.same(census(healed), census(before), 'every role is back at full count');

  for (const text of posts) await reader.waitOut(`the reader sees "${text}"`, (l) => l === `w_${name}: ${text}`);
  t.same(
    posts.filter((p) => reader.out.filter((l) => l === `w_${name}: ${p}`).length !== 1),
    [],
    'the reader saw every post exactly once',
  );
  const dump = execFileSync(process.execPath, [FBS, 'dump', '--machine', machine, '--config', cluster.configFile], { encoding: 'utf8' });
  const stored = dumpEvents(dump).filter((e) => e.kind === 'post' && e.author === `w_${name}`);
  t.same(stored.map((e) => e.text).sort(), [...posts].sort(), 'every post is stored exactly once');
  writer.kill();
  reader.kill();
}

/** Pids of the live processes of a role (status gives pid 0 to one it cannot reach). */
const pidsOf = (s: Status, machine: string, role: string): number[] =>
  s.processes.filter((p) => p.machine === machine && p.role === role && p.pid > 0).map((p) => p.pid);

t.test('a killed worker is back within the limit', (t) =>
  healsWhilePosting(t, 'm1', 'worker', async (s) => {
    const [victim] = pidsOf(s, 'm1', 'worker');
    kill([victim]);
    return [victim];
  }));

t.test('a killed master is revived by a replica', (t) =>
  healsWhilePosting(t, 'm1', 'master', async (s) => {
    const victims = pidsOf(s, 'm1', 'master');
    kill(victims);
    return victims;
  }));

for (const slot of ['0', '1']) {
  t.test(`a killed replica ${slot} is respawned by the master`, (t) =>
    healsWhilePosting(t, 'm1', `replica${slot}`, async (s) => {
      const victims = s.processes.filter((p) => p.machine === 'm1' && p.role === 'replica' && p.slot === Number(slot)).map((p) => p.pid);
      kill(victims);
      return victims;
    }));
}

t.test('a killed supervisor on a replica machine is revived by a guardian', (t) =>
  healsWhilePosting(t, 'm2', 'supervisor', async (s) => {
    const victims = pidsOf(s, 'm2', 'supervisor');
    kill(victims);
    return victims;
  }));

t.test('a killed guardian is respawned by its supervisor', (t) =>
  healsWhilePosting(t, 'm2', 'guardian', async (s) => {
    const victims = pidsOf(s, 'm2', 'guardian').slice(0, 1);
    kill(victims);
    return victims;
  }));

t.test('the master and one replica killed together: the other replica revives the master', (t) =>
  healsWhilePosting(t, 'm1', 'masterandreplica', async (s) => {
    const victims = [...pidsOf(s, 'm1', 'master'), pidsOf(s, 'm1', 'replica')[0]];
    kill(victims);
    return victims;
  }));

t.test('a replica killed during the election: the survivor still revives the master', (t) =>
  healsWhilePosting(t, 'm1', 'midelection', async (s) => {
    const [master] = pidsOf(s, 'm1', 'master');
    const since = cluster.logs.length;
    // Without its warm standby, which would take over with no election (warm-standby.test.ts).
    const standbys = serverProcesses(cluster.configFile, 'm1', master).filter((p) => p.role === 'standby').map((p) => p.pid);
    kill([...standbys, master]);
    const started = await cluster.waitForLog('an election to start', (l) => cluster.logs.indexOf(l) >= since && l.msg === 'primary is dead; starting an election');
    const other = pidsOf(s, 'm1', 'replica').find((p) => p !== started.pid) ?? started.pid;
    kill([other]);
    return [master, other];
  }));

t.test('a master paused past the timeout is fenced: exactly one master afterwards', async (t) => {
  const s = await waitFor('every process up', async () => {
    const now = await status();
    return allUp(now) && now;
  });
  const [old] = pidsOf(s, 'm1', 'master');
  kill([old], 'SIGSTOP');
  try {
    const after = await waitFor('a new master', async () => {
      const now = await status();
      if (now.master && now.master.pid !== old && allUp(now)) return now;
      throw new Error(`not yet: ${describe(now)}`); // what a timeout reports
    });
    t.ok(after.master!.term > s.master!.term, `the new master has a higher term (${s.master!.term} -> ${after.master!.term})`);
  } finally {
    try {
      kill([old], 'SIGCONT');
    } catch {
      /* fenced: already gone */
    }
  }
  await waitFor('the old master to be gone', () => {
    try {
      process.kill(old, 0);
      return false;
    } catch {
      return true;
    }
  });
  const final = await status();
  t.equal(final.processes.filter((p) => p.role === 'master').length, 1, 'exactly one master');
});
