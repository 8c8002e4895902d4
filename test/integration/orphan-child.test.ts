/**
 * A child whose primary died does not crash or log an unhandled error when it sends
 * to it (a worker's quota ask, pong, doorbell or metrics racing the master's SIGKILL):
 * every child's send goes through toPrimary (lib/machine/child-ipc.ts), which takes
 * the EPIPE. Real processes: test/helpers/orphan-sender.ts (build first).
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../lib/common/paths';
import { isAlive } from '../../lib/common/proc-stat';
import { tempDir } from '../helpers/storage';
import { waitFor } from '../helpers/wait';

const SENDER = join(REPO_ROOT, 'dist', 'test', 'helpers', 'orphan-sender.js');

t.test("a child sending to its SIGKILLed primary (the channel's close not yet read) neither crashes nor logs the EPIPE", async (t) => {
  const dir = tempDir(t);
  const parent = spawn(process.execPath, [SENDER, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const childPid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString()))));
  t.teardown(() => {
    if (isAlive(childPid)) process.kill(childPid, 'SIGKILL');
  });
  await waitFor('the child blocked, waiting', () => existsSync(join(dir, 'ready')), 30_000);
  const exited = new Promise((resolve) => parent.once('exit', resolve));
  parent.kill('SIGKILL');
  await exited; // reaped: its end of the channel is closed
  writeFileSync(join(dir, 'parent-gone'), '');
  await waitFor('the child to exit', () => !isAlive(childPid), 30_000);
  t.ok(existsSync(join(dir, 'survived')), 'the child lived on after its send, to exit by itself');
  t.notMatch(readFileSync(join(dir, 'stderr'), 'utf8'), /EPIPE|Error/, 'and wrote no error');
});
