/**
 * `fbs console` in a real browser (Debian's chromium, headless, driven by
 * playwright-core): it prints its URL first, and its live page shows a killed
 * worker down and its new pid within 5 s, and a replication link down while its peer
 * is stopped and up again once it is back. A screenshot goes to .tap/console/.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { eachLine } from '../../lib/common/lines';
import { FBS, freePort, REPO, startCluster, type TestCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const CHROMIUM = '/usr/bin/chromium';
const OUT = join(REPO, '.tap', 'console');

let cluster: TestCluster;
let consoleProc: ChildProcess;
let port: number;
const lines: string[] = [];
let browser: Browser;

t.before(async () => {
  cluster = await startCluster({ machines: ['m1', 'm2'], workers: 2, guardians: 1 });
  port = await freePort();
  consoleProc = spawn(process.execPath, [FBS, 'console', '--port', String(port), '--config', cluster.configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  eachLine(consoleProc.stdout!, (line) => lines.push(line));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
t.teardown(async () => {
  await browser?.close();
  if (consoleProc.exitCode === null) {
    const exited = new Promise((resolve) => consoleProc.once('exit', resolve));
    consoleProc.kill('SIGINT');
    await exited;
  }
  await cluster.teardown();
});

t.test('fbs console prints its URL as its first line', async (t) => {
  await waitFor('the console\'s first line', () => lines.length > 0);
  t.equal(lines[0], `http://127.0.0.1:${port}/`);
});

t.test('the page shows a killed worker down and its new pid within 5 s', async (t) => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 640 } });
  await page.goto(lines[0]);
  const worker = await cluster.upProcess('m1', 'worker', 0);
  await page.waitForSelector(`tr[data-pid="${worker.pid}"][data-state="up"]`, { timeout: 30_000 });
  t.match(await page.textContent('#meta'), /master m1 pid \d+, term \d+/, 'the master and its term');

  const killedAt = Date.now();
  process.kill(worker.pid, 'SIGKILL');
  await page.waitForSelector(`tr[data-pid="${worker.pid}"][data-state="down"]`, { timeout: 5_000 });
  const down = Date.now() - killedAt;
  // Runs in the page (a string: this project's TypeScript has no DOM types).
  const revived = await page.waitForFunction(
    `[...document.querySelectorAll('tr[data-key="m1 worker 0"]')].map((r) => r.dataset).find((d) => d.pid !== '${worker.pid}' && d.state !== 'down')?.pid`,
    undefined,
    { timeout: Math.max(1, 5_000 - (Date.now() - killedAt)) },
  );
  const newPid = Number(await revived.jsonValue());
  const back = Date.now() - killedAt;
  t.not(newPid, worker.pid, `worker 0 is back as pid ${newPid}`);
  t.ok(back <= 5_000, `marked down after ${down} ms, the new pid shown after ${back} ms`);
  t.match(await page.textContent('#strip'), `m1 worker 0: pid ${worker.pid} down`, 'the strip of events says so');

  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: join(OUT, 'console.png') });
  t.comment(`screenshot: ${join(OUT, 'console.png')}`);
});

t.test('the page shows the replication link from a stopped machine down, and up again once it is back', async (t) => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 640 } });
  await page.goto(lines[0]);
  await page.waitForSelector('[data-link="m2 m1"].link-up', { timeout: 30_000 });
  await cluster.stop('m2');
  await page.waitForSelector('[data-link="m2 m1"].link-down', { timeout: 30_000 });
  t.match(await page.textContent('#strip'), 'link m2 → m1 down', 'the strip of events says the link went down');
  await cluster.start('m2');
  await page.waitForSelector('[data-link="m2 m1"].link-up', { timeout: 30_000 });
  t.match(await page.textContent('#strip'), 'link m2 → m1 up', 'and that it is up again');
});
