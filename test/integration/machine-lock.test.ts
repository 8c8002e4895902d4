/**
 * The machine's room lock (lib/storage/machine-lock): two busy writer processes
 * are never both inside it, and neither starves the other: the lock changes hands
 * while both commit back to back. Holder processes run
 * dist/test/helpers/lock-holder.js (build first).
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../lib/common/paths';
import { tempDir } from '../helpers/storage';

const HOLDER = join(REPO_ROOT, 'dist', 'test', 'helpers', 'lock-holder.js');

interface Outcome {
  sections: number;
  clashes: number;
}

function holder(t: { teardown(fn: () => void): void }, dir: string, sections: number): Promise<Outcome> {
  const child = spawn(process.execPath, [HOLDER, JSON.stringify({ dir, sections })], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  return new Promise((resolve, reject) =>
    child.once('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Outcome) : reject(new Error(`lock holder exited ${code}: ${err}`)))),
  );
}

t.test('two busy writer processes are never both inside the room lock, and take turns', async (t) => {
  const dir = tempDir(t);
  const sections = 200;
  const [a, b] = await Promise.all([holder(t, dir, sections), holder(t, dir, sections)]);
  t.equal(a.clashes + b.clashes, 0, 'no section found the other process inside');
  const order = readFileSync(join(dir, 'order'), 'utf8').trim().split('\n');
  t.equal(order.length, 2 * sections, 'every section ran');
  const turns = order.filter((pid, i) => i > 0 && pid !== order[i - 1]).length;
  t.ok(turns >= 10, `the lock changed hands while both were busy (${turns} handovers)`);
});
