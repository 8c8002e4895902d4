/** Lock staleness on one clock: the adapter translates lock mtimes into the process's clock and back. */
import t from 'tap';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { clockOffsetMs, lockFs } from '../../lib/storage/lock-clock';

const dir = mkdtempSync(join(tmpdir(), 'ftchat-lock-clock-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('with a true clock the offset is zero', async (t) => {
  t.equal(clockOffsetMs(dir), 0);
});

t.test('a clock three hours behind reads lock mtimes three hours earlier, and writes them back exactly', async (t) => {
  const offset = -3 * 3600 * 1000;
  const fs = lockFs(offset);
  const file = join(dir, 'lock');
  writeFileSync(file, '');
  const kernel = statSync(file).mtimeMs;
  const seen = await promisify(fs.stat)(file);
  t.ok(Math.abs(seen.mtime.getTime() - (kernel + offset)) < 1, 'stat gives the mtime on the process clock');
  const mine = new Date(Date.now() + offset);
  await promisify(fs.utimes)(file, mine, mine);
  t.equal((await promisify(fs.stat)(file)).mtime.getTime(), mine.getTime(), 'what we write is what we read back');
  t.ok(Math.abs(statSync(file).mtimeMs - (mine.getTime() - offset)) < 1, 'on disk it is kernel time');
});
