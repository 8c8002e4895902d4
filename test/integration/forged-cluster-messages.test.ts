/**
 * What a holder of the cluster secret cannot do (README, Security): keep a killed
 * primary down with forged election messages, or make a primary signal a pid it
 * names on a Watch stream. The forger here is a client with the secret, speaking
 * the Admin service like any guardian.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { adminAddress, loadConfig } from '../../lib/common/config';
import { isAlive } from '../../lib/common/proc-stat';
import { AdminPeer } from '../../lib/supervision/admin-client';
import { FBS, startCluster, type TestCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';

let cluster: TestCluster;
t.before(async () => {
  // Without the warm standby: it takes over without an election, and this is about the guardians' election.
  cluster = await startCluster({ machines: ['m1'], workers: 1, standby: false });
});
t.teardown(() => cluster.teardown());

const peers: AdminPeer[] = [];
t.teardown(() => peers.forEach((p) => p.close()));
function admin(slot?: number): AdminPeer {
  const config = loadConfig(cluster.configFile);
  const peer = new AdminPeer(adminAddress(config, 'm1', slot), config);
  peers.push(peer);
  return peer;
}

/** The machine's primary as it answers on its admin port (null while none answers). */
const primaryAnswer = (peer: AdminPeer) => peer.heartbeat(1_000).catch(() => null);

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(2, 7).join(' ');
  } catch {
    return '(gone)';
  }
}

/** A process the test owns, killed at the end. */
function ownProcess(args: string[]): number {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)', ...args], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  return child.pid!;
}

t.test('a flood of forged election messages does not keep a killed primary down', async (t) => {
  const primary = admin();
  const before = await waitFor('the primary answers', () => primaryAnswer(primary));
  const guardians = [admin(0), admin(1)];
  const members = ['m1.g0', 'm1.g1'];
  // Every 20 ms, to each guardian: "the other guardian leads the next term". Trusting it, a
  // guardian waits for the other to revive the primary, and the other waits for it, forever
  // (so it went on main before this change: the primary never came back).
  let k = 0;
  const forge = setInterval(() => {
    k++;
    guardians.forEach((g, i) => {
      const other = members[1 - i];
      void g.elect({ kind: 'elected', term: Number(before.term) + k, candidate: other, origin: '', from: other }, 500).catch(() => undefined);
    });
  }, 20);
  t.teardown(() => clearInterval(forge));

  process.kill(before.pid, 'SIGKILL');
  const after = await waitFor('a new primary answers', async () => {
    const now = await primaryAnswer(primary);
    return now && now.pid !== before.pid ? now : null;
  }, 30_000);
  clearInterval(forge);
  t.ok(k > 20, `${k * 2} forged messages were sent while it was down`);
  t.ok(Number(after.term) > Number(before.term), `the new primary fences the old one with a higher term (${before.term} -> ${after.term})`);
  t.ok(Number(after.term) <= Number(before.term) + k + 10, 'its term moved no further than the forged ones');
});

t.test('a pid named on a Watch stream is never signalled', async (t) => {
  const primary = admin();
  const bystander = ownProcess([]);
  // A stand-in whose command line is a guardian's of slot 0: checked on this machine, it passes
  // as that slot's guardian, but it is no child of the primary.
  const standIn = ownProcess([FBS, 'guardian', '--machine', 'm1', '--slot', '0', '--config', cluster.configFile]);

  const watch = (pid: number) =>
    new Promise<{ code: grpc.status | 'answered' }>((resolve) => {
      const stream = primary.watch();
      stream.on('data', () => {
        resolve({ code: 'answered' });
        stream.cancel();
      });
      stream.on('error', (err: grpc.ServiceError) => resolve({ code: err.code }));
      stream.write({ from: 'm1.g0', pid, term: 0 });
    });
  t.equal((await watch(bystander)).code, grpc.status.INVALID_ARGUMENT, 'a pid that is not a guardian of this machine is refused');
  t.equal((await watch(standIn)).code, 'answered', 'a process that looks like the slot\'s guardian is answered');

  // The primary stops (as `fbs stop` or systemd would): it ends its guardians, none of which it spawned here.
  const current = await waitFor('the primary answers', () => primaryAnswer(primary));
  t.ok(cluster.pids('m1').includes(current.pid), 'the pid that answers is the machine\'s primary');
  process.kill(current.pid, 'SIGTERM');
  await waitFor('every process of m1 but the stand-in gone', () => {
    const left = cluster.pids('m1');
    if (left.length === 1 && left[0] === standIn) return true;
    throw new Error(`left: ${left.map((p) => `${p} ${commandLine(p)}`).join('; ')}`);
  }, 20_000);
  t.ok(isAlive(bystander), 'the bystander was not signalled');
  t.ok(isAlive(standIn), 'nor the stand-in named as a guardian');
});
