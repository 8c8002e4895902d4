/**
 * The master heartbeats every remote worker: a worker on another machine that
 * hangs (SIGSTOP: its process exists but answers nothing) is revived by the
 * master through that machine's supervisor, and only the cluster may ask for that.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import type { ClusterStatus } from '../../lib/admin/status';
import { adminAddress, loadConfig } from '../../lib/common/config';
import { ftchatProto } from '../../lib/common/proto';
import { secretMetadata } from '../../lib/common/secret';
import type { AdminClient } from '../../lib/gen/ftchat/Admin';
import { startCluster, type TestCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { credentialsFor } from '../helpers/trust';

let cluster: TestCluster;
t.before(async () => {
  cluster = await startCluster({ machines: ['m1', 'm2'], workers: 2 });
  await waitFor('every worker up', async () => upWorkers(await status(), 'm2').length === 2 && upWorkers(await status(), 'm1').length === 2);
});
t.teardown(() => cluster.teardown());

const status = (): Promise<ClusterStatus> => cluster.status();

const upWorkers = (s: ClusterStatus, machine: string) => s.processes.filter((p) => p.machine === machine && p.role === 'worker' && p.state === 'up');

t.test('the master revives a hung remote worker through its machine\'s supervisor', async (t) => {
  const victim = await waitFor("m2's worker 1 up", async () => upWorkers(await status(), 'm2').find((p) => p.slot === 1));
  const since = cluster.logs.length;
  const fresh = () => cluster.logs.slice(since);
  process.kill(victim.pid, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(victim.pid, 'SIGKILL');
    } catch {
      /* already gone: revived */
    }
  });

  const asked = await waitFor("m1's master asks m2's supervisor to revive worker 1", () =>
    fresh().find((l) => l.machine === 'm1' && l.role === 'master' && l.msg.startsWith("asked m2's supervisor to revive worker 1")));
  t.equal(asked.childPid, victim.pid, 'naming the hung pid');
  t.equal(asked.answer, 'killed', 'and the supervisor answers that it killed it');
  await waitFor("m2's supervisor logs that it acted", () =>
    fresh().find((l) => l.machine === 'm2' && l.role === 'supervisor' && l.msg === 'the master asked to revive worker 1: killed'));
  t.notOk(
    fresh().some((l) => l.machine === 'm2' && /stopped answering; killing it/.test(l.msg)),
    'the watched supervisor left the hung worker to the master',
  );

  const healed = await waitFor('m2 back at full worker count, slot 1 under a new pid', async () => {
    const s = await status();
    const workers = upWorkers(s, 'm2');
    return workers.length === 2 && workers.some((p) => p.slot === 1 && p.pid !== victim.pid) && !s.processes.some((p) => p.pid === victim.pid) ? s : null;
  });
  t.equal(upWorkers(healed, 'm2').length, 2, "`fbs status` shows m2's two workers up again");
});

t.test('Revive is refused without the cluster secret, and guardians leave it to their primary', async (t) => {
  const config = loadConfig(cluster.configFile);
  const P = ftchatProto();
  const supervisor: AdminClient = new P.ftchat.Admin(adminAddress(config, 'm2'), credentialsFor(adminAddress(config, 'm2')));
  const guardian: AdminClient = new P.ftchat.Admin(adminAddress(config, 'm2', 0), credentialsFor(adminAddress(config, 'm2', 0)));
  t.teardown(() => {
    supervisor.close();
    guardian.close();
  });
  // A status taken while m2's supervisor is slow to answer (a loaded host) shows none of its workers.
  const workerPids = () => waitFor("m2's two workers in the status", async () => {
    const up = upWorkers(await status(), 'm2');
    return up.length === 2 && up.map((p) => p.pid).sort();
  });
  const before = await workerPids();
  const revive = (client: AdminClient, md: grpc.Metadata) =>
    new Promise<grpc.ServiceError | null>((resolve) =>
      client.Revive({ role: 'worker', slot: 0, pid: 0 }, md, { deadline: Date.now() + 5_000 }, (err) => resolve(err)),
    );

  const none = await revive(supervisor, new grpc.Metadata());
  t.equal(none?.code, grpc.status.UNAUTHENTICATED, 'no secret: UNAUTHENTICATED');
  t.match(none?.details, /cluster secret/, 'with a message that says why');
  const wrong = await revive(supervisor, secretMetadata('guessed'));
  t.equal(wrong?.code, grpc.status.UNAUTHENTICATED, 'a wrong secret: UNAUTHENTICATED');
  await cluster.waitForLog('the refusal logged on m2', (l) => l.machine === 'm2' && l.role === 'supervisor' && /refused internal RPC/.test(l.msg) && l.method === 'Revive');

  const atGuardian = await revive(guardian, secretMetadata(config.secret));
  t.equal(atGuardian?.code, grpc.status.UNIMPLEMENTED, 'a guardian, asked with the secret, answers UNIMPLEMENTED');
  t.same(await workerPids(), before, 'and no worker was touched');
});

t.test("a remote worker slot left empty by its supervisor's crash back-off is forked at the master's request", async (t) => {
  const since = cluster.logs.length;
  const fresh = () => cluster.logs.slice(since);
  const forked = () => fresh().find((l) => l.machine === 'm1' && l.role === 'master' && l.msg === "asked m2's supervisor to revive worker 0: forked");
  // Kill slot 0 each time it comes back, before it counts as healthy: its supervisor waits longer before each re-fork.
  // A new worker is known by its first log line (`fbs status` costs a process start: seconds on a busy host, when 5 s makes it healthy).
  const first = await cluster.upProcess('m2', 'worker', 0);
  const killed = new Set<number>();
  const kill = (pid: number): void => {
    if (killed.has(pid)) return;
    killed.add(pid);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone already */
    }
  };
  kill(first.pid);
  await waitFor('the master to have the empty slot forked', () => {
    if (forked()) return true;
    for (const l of fresh()) if (l.machine === 'm2' && l.role === 'worker' && l.slot === 0) kill(l.pid);
    return false;
  }, 40_000, 20);
  const asked = await waitFor("m2's supervisor logs that it forked at the master's request", () =>
    fresh().find((l) => l.machine === 'm2' && l.role === 'supervisor' && l.msg === 'the master asked to revive worker 0: forked'));
  // One process's lines keep their order: the supervisor's last word on slot 0 before the master's ask.
  const supervisor = fresh().filter((l) => l.pid === asked.pid);
  const putOff = supervisor.slice(0, supervisor.indexOf(asked)).filter((l) => l.msg === 'worker died; re-forking' && l.child === 'worker:0').at(-1);
  t.ok(Number(putOff?.delayMs) > 0, `the supervisor had put off its own re-fork (by ${putOff?.delayMs} ms) when the master asked`);
  const healed = await waitFor('m2 back at full worker count', async () => (upWorkers(await status(), 'm2').length === 2 ? true : null));
  t.ok(healed, "`fbs status` shows m2's two workers up again");
});

t.test('with the master machine down, a supervisor still kills and re-forks a hung worker itself', async (t) => {
  await cluster.killMachine('m1');
  const victim = upWorkers(await status(), 'm2').find((p) => p.slot === 0)!;
  t.ok(victim, "m2's worker 0 is up");
  process.kill(victim.pid, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(victim.pid, 'SIGKILL');
    } catch {
      /* already gone: revived */
    }
  });
  await cluster.waitForLog("m2's supervisor kills the hung worker on its own", (l) =>
    l.machine === 'm2' && l.role === 'supervisor' && /stopped answering; killing it/.test(l.msg) && l.childPid === victim.pid);
  const healed = await waitFor('m2 back at full worker count, slot 0 under a new pid', async () => {
    const workers = upWorkers(await status(), 'm2');
    return workers.length === 2 && workers.some((p) => p.slot === 0 && p.pid !== victim.pid) ? workers : null;
  });
  t.equal(healed.length, 2, "`fbs status` shows m2's two workers up again");
});
