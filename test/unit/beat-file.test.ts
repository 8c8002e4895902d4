/** Heartbeats through a file's mtime: what a watcher counts as a beat, and a beat that cannot be written. */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../lib/common/log';
import { Beater, BeatWatcher } from '../../lib/supervision/beat-file';

const dir = mkdtempSync(join(tmpdir(), 'ftchat-beat-file-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function capturingLogger(): { log: ReturnType<typeof createLogger>; lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = [];
  const log = createLogger({ machine: 'm1', role: 'test' }, (line) => lines.push(JSON.parse(line)));
  return { log, lines };
}

t.test('a watcher counts a beat only when the file was touched since it last looked', async (t) => {
  const path = join(dir, 'a.beat');
  const watcher = new BeatWatcher(path);
  t.notOk(watcher.beaten(), 'no file yet: no beat');
  const beater = new Beater(path, capturingLogger().log);
  beater.beat();
  t.notOk(watcher.beaten(), 'the first look only learns the mtime');
  t.notOk(watcher.beaten(), 'not touched since: no beat');
  utimesSync(path, new Date(1_000), new Date(1_000)); // any change counts, whatever the clock says
  t.ok(watcher.beaten(), 'touched: a beat');
  t.notOk(watcher.beaten(), 'counted once');
  beater.beat();
  t.ok(watcher.beaten(), 'beaten again');
});

t.test('a beat that cannot be written is logged once, never thrown, and its recovery is logged', async (t) => {
  const missing = join(dir, 'not-yet', 'b.beat');
  const { log, lines } = capturingLogger();
  const beater = new Beater(missing, log);
  t.doesNotThrow(() => beater.beat());
  t.doesNotThrow(() => beater.beat());
  t.same(lines.map((l) => `${l.level} ${l.msg}`), ['error cannot write the beat file; watchers will think us silent'], 'one error for the failing spell');
  mkdirSync(join(dir, 'not-yet'));
  beater.beat();
  t.same(lines.at(-1)?.msg, 'beat file written again');
});
