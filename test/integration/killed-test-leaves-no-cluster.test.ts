/**
 * A killed test never leaves a cluster (issue 22): tap SIGKILLs a test file at its
 * timeout, and its teardowns never run. Its cluster must die with it, guardians
 * and all, although guardians revive a killed primary: nothing of it lives 5 s later.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../lib/common/paths';
import { serverPids } from '../../lib/common/processes';
import { isAlive } from '../../lib/common/proc-stat';
import { eachLine } from '../../lib/common/lines';
import { ownedPids, ownChildren } from '../helpers/reaper';
import { waitFor } from '../helpers/wait';

ownChildren();

const DOOMED = join(REPO_ROOT, 'dist', 'test', 'helpers', 'doomed-test.js');
/** What the issue allows between the kill and nothing left. */
const GONE_WITHIN_MS = 5_000;

interface Doomed {
  owner: string;
  configFile: string;
  master: number;
}

t.test('a test SIGKILLed while a guardian revives its master leaves nothing of its cluster alive 5 s later', async (t) => {
  // Without this process's mark, so the stand-in owns its cluster as a test file run by tap does.
  const env = { ...process.env };
  delete env.FTCHAT_TEST_OWNER;
  const doomed = spawn(process.execPath, [DOOMED], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (doomed.exitCode === null && doomed.signalCode === null) doomed.kill('SIGKILL');
  });
  let ready: Doomed | null = null;
  eachLine(doomed.stdout!, (line) => (ready = JSON.parse(line) as Doomed));
  const d = await waitFor('the stand-in test process to have its machine up, guardians included', () => {
    if (doomed.exitCode !== null) throw new Error(`the stand-in exited (${doomed.exitCode})`);
    return ready;
  }, 280_000); // a machine start and fbs status on a loaded host; cut to tap's timeout
  t.ok(serverPids(d.configFile).length >= 4, `its cluster runs (${serverPids(d.configFile).length} processes)`);

  // Mid-run: its guardians are about to revive the master when the test dies.
  process.kill(d.master, 'SIGKILL');
  doomed.kill('SIGKILL');
  const killedAt = Date.now();

  const gone = await waitFor('nothing of the killed test left', () => ownedPids(d.owner).length === 0 && serverPids(d.configFile).length === 0 && Date.now(), GONE_WITHIN_MS * 2);
  t.ok(gone - killedAt <= GONE_WITHIN_MS, `every process of its cluster gone ${gone - killedAt} ms after the kill (at most ${GONE_WITHIN_MS})`);
  // Nothing can revive what is gone, but look again at the 5 s mark, as the promise says.
  await new Promise((r) => setTimeout(r, Math.max(0, killedAt + GONE_WITHIN_MS - Date.now())));
  t.same(ownedPids(d.owner), [], 'no process carrying its mark 5 s after the kill');
  t.same(serverPids(d.configFile).filter(isAlive), [], 'no server process of its cluster 5 s after the kill');
});
