/**
 * `npm start` in a real terminal (tmux) behaves like a daemon run in the foreground:
 * a few readable lines (TLS set up on the first start, each machine up with its
 * ports, one `ready` line naming the command to try), the JSON logs in files under
 * each machine's data dir, and Ctrl-C stops every machine once, one line each,
 * without a stack trace.
 */
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../lib/common/config';
import { serverPids } from '../../lib/common/processes';
import { FBS, startCluster } from '../helpers/server';
import { openTerminal, tmuxMissing } from '../helpers/tmux';
import { waitFor } from '../helpers/wait';

t.test('npm start in a terminal: a readable summary, logs in files, and one clean stop on Ctrl-C', { skip: tmuxMissing }, async (t) => {
  const cluster = await startCluster({ machines: ['m1', 'm2'], workers: 1, guardians: 1, startMachines: false });
  t.teardown(() => cluster.teardown());
  const config = loadConfig(cluster.configFile);
  rmSync(config.tlsDir, { recursive: true, force: true }); // a first start: it sets TLS up itself

  // The shell traps Ctrl-C (a trap, unlike an ignored signal, is not inherited) to say how start-all exited.
  const term = openTerminal(`sh -c 'trap true INT; ${process.execPath} ${FBS} start-all --config ${cluster.configFile}; echo "start-all exited $?"; sleep 600'`, { width: 250, height: 60 });
  t.teardown(() => term.close());
  const seen = (pred: (l: string) => boolean): string | undefined => term.screen(true).find(pred);

  await waitFor('the TLS set-up line', () => seen((l) => l.startsWith('TLS set up (first start)')));
  for (const [m, role] of [['m1', 'master'], ['m2', 'supervisor']]) {
    const line = await waitFor(`${m} up`, () => seen((l) => l.startsWith(`${m} up (${role}`)), 90_000);
    t.match(line, `clients 127.0.0.1:${config.machines[m].port}`, `${m}'s line names its client port`);
    t.match(line, `metrics http://127.0.0.1:${config.machines[m].metricsPort}/metrics`, 'and where its metrics are');
  }
  const ready = await waitFor('the ready line', () => seen((l) => l.startsWith('ready: try ')));
  t.match(ready, `./fbc -u alice -c ${cluster.configFile}`, 'it names the command to connect');
  t.match(ready, 'Ctrl-C', 'and how to stop');

  const screen = term.screen(true).filter((l) => l !== '');
  t.same(screen.filter((l) => l.startsWith('{')), [], 'no JSON lines in a terminal');
  // Warnings may come on a host this loaded (a late timer), but never the expected refusals of a starting cluster.
  t.same(screen.filter((l) => / (WARN|ERROR) /.test(l) && /ECONNREFUSED|does not answer/.test(l)), [], "a starting cluster's refusals are not warnings");

  // The JSON lines are in each machine's logs/, one file per process.
  const logs = join(config.dataDir, 'm1', 'logs');
  t.ok(readdirSync(logs).includes('master.log'), "the master's log file");
  const lines = readFileSync(join(logs, 'master.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string; machine: string });
  t.ok(lines.some((l) => l.msg === 'master in charge' && l.machine === 'm1'), 'holds its JSON lines');

  term.keys('C-c');
  const exited = await waitFor('start-all to exit', () => seen((l) => l.startsWith('start-all exited')), 60_000).catch((err: Error) => {
    throw new Error(`${err.message}; the screen ends:\n${term.screen(true).filter(Boolean).slice(-12).join('\n')}`);
  });
  t.equal(exited, 'start-all exited 0');
  const after = term.screen(true);
  for (const m of ['m1', 'm2']) {
    const stopped = after.filter((l) => l.startsWith(`stopped ${m}`));
    t.equal(stopped.length, 1, `one line for ${m}`);
    t.notMatch(stopped[0] ?? '', 'not running', `${m}'s primary was stopped by the stop, not before it`);
  }
  t.same(after.filter((l) => /^\s+at |^\w*Error: |ENOENT/.test(l)), [], 'no stack trace, no error');
  t.same(serverPids(cluster.configFile), [], 'no process of the cluster is left');
});
