/**
 * Logs an operator can live with: every line a JSON object with machine, role and pid;
 * in a terminal a warning is one readable line; a process's log file is rotated by
 * size and keeps a bounded number of old files.
 */
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consoleMode, createLogger } from '../../lib/common/log';
import { formatLogLine } from '../../lib/common/pretty-line';
import { RotatingFile } from '../../lib/common/rotating-file';

const dir = mkdtempSync(join(tmpdir(), 'ftchat-logs-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('a line is one JSON object with its level, machine, role, pid, message and fields', async (t) => {
  const lines: string[] = [];
  const log = createLogger({ machine: 'm1', role: 'worker', slot: 0 }, (l) => lines.push(l));
  log.warn('event loop delayed', { maxMs: 612 });
  log.debug('not shown at the default level');
  log.child({ peer: 'm2' }).info('pulling from peer');
  t.equal(lines.length, 2);
  t.ok(lines.every((l) => l.endsWith('\n') && l.indexOf('\n') === l.length - 1), 'one line each');
  const [warn, info] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.match(warn, { level: 'warn', machine: 'm1', role: 'worker', slot: 0, pid: process.pid, msg: 'event loop delayed', maxMs: 612 });
  t.ok(!Number.isNaN(Date.parse(String(warn.time))), 'an ISO time');
  t.match(info, { level: 'info', peer: 'm2', msg: 'pulling from peer' });
});

t.test('in a terminal a warning is one readable line: time, level, who, message, fields', async (t) => {
  const json = JSON.stringify({ level: 'warn', time: '2026-12-07T01:02:03.000Z', machine: 'm1', role: 'master', pid: 42, msg: 'asked m2 to revive\nworker 0', slot: 0, answer: 'forked' });
  const line = formatLogLine(json);
  t.match(line, /^\d\d:\d\d:\d\d WARN  m1 master \(pid 42\): asked m2 to revive worker 0 \(slot=0, answer=forked\)\n$/, line);
  t.equal(line.split('\n').length, 2, 'a message with a newline still takes one line');
  const worker = formatLogLine(JSON.stringify({ level: 'error', time: '2026-12-07T01:02:03.000Z', machine: 'm2', role: 'worker', slot: 1, pid: 7, msg: 'x' }));
  t.match(worker, /ERROR m2 worker 1 \(pid 7\): x\n$/, "a worker's own slot names it");
});

t.test('the terminal gets JSON when it is not a terminal, or when asked', async (t) => {
  t.equal(consoleMode({}, true), 'pretty');
  t.equal(consoleMode({}, false), 'json');
  t.equal(consoleMode({ FBS_LOG: 'json' }, true), 'json');
});

t.test('a log file is rotated by size: the live name stays, a bounded number of old files is kept', async (t) => {
  const file = new RotatingFile(join(dir, 'logs'), 'worker-0.log', 1_000, 2);
  const line = `${'x'.repeat(99)}\n`;
  for (let i = 0; i < 50; i++) file.write(line); // 5,000 bytes: four rotations
  const names = readdirSync(join(dir, 'logs')).sort();
  t.same(names, ['worker-0.log', 'worker-0.log.1', 'worker-0.log.2'], 'the live file and two old ones');
  for (const n of names) t.ok(statSync(join(dir, 'logs', n)).size <= 1_000, `${n} within the size`);
  t.equal(readFileSync(join(dir, 'logs', 'worker-0.log.1'), 'utf8').split('\n').filter(Boolean).length, 10, 'whole lines only');
  t.equal(statSync(join(dir, 'logs', 'worker-0.log')).mode & 0o777, 0o600, 'owner-only');
});
