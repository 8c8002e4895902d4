/** Liveness of a pid: what fencing, the guardians' fast path and breaking a dead writer's lock rely on. */
import t from 'tap';
import { spawn } from 'node:child_process';
import { isAlive, procStat } from '../../lib/common/proc-stat';
import { waitFor } from '../helpers/wait';

t.test('a running process is alive, and a zombie (dead, not yet reaped) is not', async (t) => {
  // The child outlives the shell's exec into `sleep`, which never reaps it.
  const parent = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => parent.kill('SIGKILL'));
  const zombie = Number(await new Promise<string>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()))));
  t.ok(isAlive(parent.pid!), 'the sleeping parent is alive');
  await waitFor('the child to become a zombie', () => procStat(zombie)?.[0] === 'Z');
  t.notOk(isAlive(zombie), 'the zombie counts as dead');
  t.notOk(isAlive(2 ** 22 + 12345), 'a pid that does not exist is dead');
});
