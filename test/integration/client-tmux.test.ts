/**
 * The client in a real terminal (tmux): a message that arrives while the user is
 * typing is printed above the prompt, and the half-typed line stays intact; chat
 * lines carry the local time; the user's own post is shown once, when it is
 * stored; Ctrl-C leaves a clean line for the shell; and with no server running
 * the `connecting to ...` status gives way to one error line.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { NOT_RUNNING_HINT } from '../../lib/client/connection';
import { fbcConfigHome, runFbc, type Teardown } from '../helpers/fbc';
import { FBC, freePort, startCluster } from '../helpers/server';
import { openTerminal, tmuxMissing } from '../helpers/tmux';
import { waitFor } from '../helpers/wait';

/** A chat line as a terminal shows it: `[14:02] <author>: <text>`. */
const chatLine = (author: string, text: string): RegExp => new RegExp(`^\\[\\d\\d:\\d\\d\\] ${author}: ${text}$`);

interface Pane {
  tmux(...args: string[]): string;
  screen(): string[];
  lastLine(): string;
  keys(...keys: string[]): void;
  /** Types text literally. */
  type(text: string): void;
}

/** A terminal (test/helpers/tmux) running `command` in a 100x30 pane, closed at teardown. */
function pane(t: Teardown, command: string): Pane {
  const term = openTerminal(command, { env: { XDG_CONFIG_HOME: fbcConfigHome() } });
  t.teardown(() => term.close());
  const screen = (): string[] => term.screen();
  return {
    tmux: term.tmux,
    screen,
    lastLine: () => screen().filter((l) => l !== '').pop() ?? '',
    keys: (...keys) => term.keys(...keys),
    type: (text) => term.keys('-l', text),
  };
}

t.test('fbc in a terminal: typing, local times, the own post once, and Ctrl-C', { skip: tmuxMissing }, async (t) => {
  const cluster = await startCluster({ workers: 1 });
  t.teardown(() => cluster.teardown());
  const servers = ['-s', cluster.address(), '-c', cluster.configFile];
  await runFbc(t, ['-u', 'dave', ...servers], ['quit']);
  await runFbc(t, ['-u', 'carol', ...servers], ['join dave', 'quit']);

  // After fbc, what a shell would print next: its prompt, where the cursor was left.
  const p = pane(t, `'${FBC}' -u carol ${servers.join(' ')}; printf 'shell$ '; exec cat`);
  await waitFor('the prompt', () => p.lastLine() === 'carol>');
  p.keys('chat', 'Enter');
  await waitFor('the chat prompt', () => p.lastLine() === 'carol (chat)>');

  p.type('half typed');
  await waitFor('the typed text', () => p.lastLine() === 'carol (chat)> half typed');
  await runFbc(t, ['-u', 'dave', ...servers], ['chat', 'hello tmux', 'quit']);
  await waitFor("dave's post on the screen", () => p.screen().some((l) => chatLine('dave', 'hello tmux').test(l)));
  t.equal(p.lastLine(), 'carol (chat)> half typed', 'the prompt and the typed text are redrawn intact below the post');
  t.notOk(p.screen().some((l) => l.includes('half typed') && l.includes('dave')), 'the post and the typed text are not mixed');

  // The typed text is still in readline's buffer: finishing the line posts all of it.
  p.type(' and done');
  p.keys('Enter');
  await waitFor('the completed post', () => p.screen().some((l) => chatLine('carol', 'half typed and done').test(l)));
  await waitFor('the prompt again', () => p.lastLine() === 'carol (chat)>');
  t.same(
    p.screen().filter((l) => l.includes('half typed and done')).length,
    1,
    'the own post is on the screen once: the typed line gave way to the stored post',
  );

  p.type('never sent');
  await waitFor('the typed text', () => p.lastLine() === 'carol (chat)> never sent');
  p.keys('C-c');
  await waitFor('the shell prompt', () => p.lastLine() === 'shell$');
  t.notOk(p.screen().some((l) => l.includes('carol (chat)>')), 'Ctrl-C took the chat prompt with it: the shell prompt has a line of its own');
  t.notOk(p.screen().some((l) => l.includes('never sent')), 'and the half-typed line, which was not posted');
});

t.test('with no server running a terminal shows connecting to ..., then one error line in its place', { skip: tmuxMissing }, async (t) => {
  const dead = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
  const cluster = await startCluster({ startMachines: false }); // a config (the cluster's CA), never started
  t.teardown(() => cluster.teardown());
  const raw = join(mkdtempSync(join(tmpdir(), 'ftchat-tmux-raw-')), 'pane.out');
  t.teardown(() => rmSync(raw, { force: true }));
  // fbc waits for a key, so that everything it prints is recorded from its first byte.
  const p = pane(t, `read go; '${FBC}' -u alice -s ${dead.join(',')} -c ${cluster.configFile}; printf 'shell$ '; exec cat`);
  p.tmux('pipe-pane', '-t', 't', '-o', `cat >> '${raw}'`);
  p.keys('Enter');
  const error = `error: no server reachable (tried ${dead.join(', ')}): each refused the connection; ${NOT_RUNNING_HINT}`;
  await waitFor('the shell prompt after fbc', () => p.lastLine() === 'shell$');
  t.ok(readFileSync(raw, 'utf8').includes(`connecting to ${dead.join(', ')} ...`), 'a status line said what it was trying');
  t.same(
    p.screen().filter((l) => l !== '' && l !== 'shell$'),
    [error],
    'the error line took its place: the screen holds that one line',
  );
});
