/**
 * Every benchmark suite still runs: `npm run bench -- --smoke --only <suite>` at a tiny
 * size, against real servers, must end with the suite's report. A suite broken by a
 * change fails here instead of rotting until someone measures with it. Not the
 * security, durability and names suites: each compares against a built checkout of its own.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../lib/common/paths';
import { isAlive } from '../../lib/common/proc-stat';
import { ownChildren } from '../helpers/reaper';

// The bench's servers die with this file even if tap kills it.
ownChildren();

const RUN = join(REPO_ROOT, 'dist', 'bench', 'run.js');
/** The slowest smokes (history, recovery: about 60-80 s each at load 15) measure only their tiny size, not the empty history too. */
const SUITE_DEADLINE_MS = 280_000;
const SUITES = ['chat', 'recovery', 'replication', 'tls', 'identity', 'history', 'metrics', 'origins'];

t.setTimeout(SUITES.length * SUITE_DEADLINE_MS);

interface Outcome {
  code: number | string | null;
  out: string;
}

function smoke(suite: string, pids: number[]): Promise<Outcome> {
  const results = mkdtempSync(join(tmpdir(), 'ftchat-bench-'));
  const proc = spawn(process.execPath, [RUN, '--smoke', '--only', suite, '--results', results], { stdio: ['ignore', 'pipe', 'pipe'] });
  pids.push(proc.pid!);
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d));
  proc.stderr.on('data', (d: Buffer) => (out += d));
  return new Promise((resolve) => {
    const deadline = setTimeout(() => proc.kill('SIGINT'), SUITE_DEADLINE_MS); // the bench cleans up on SIGINT
    proc.on('exit', (code, signal) => {
      clearTimeout(deadline);
      resolve({ code: code ?? signal, out });
    });
  });
}

for (const suite of SUITES) {
  t.test(`the ${suite} bench still runs`, async (t) => {
    const pids: number[] = [];
    t.teardown(() => pids.filter(isAlive).forEach((pid) => process.kill(pid, 'SIGKILL')));
    const { code, out } = await smoke(suite, pids);
    t.equal(code, 0, `npm run bench -- --smoke --only ${suite} exits 0`);
    const file = /^results: (.+)$/m.exec(out)?.[1];
    t.ok(file, 'and ends with its report and the file of its results');
    if (file) t.match(JSON.parse(readFileSync(file, 'utf8')), { startedAt: String }, 'which holds the run');
    if (!t.passing()) t.comment(out.split('\n').slice(-40).join('\n'));
  });
}
