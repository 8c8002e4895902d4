/**
 * The client in a real terminal (tmux): a message that arrives while the user is
 * typing is printed above the prompt, and the half-typed line stays intact.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { fbcConfigHome, runFbc } from '../helpers/fbc';
import { FBC, startCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const tmuxMissing = spawnSync('tmux', ['-V']).error ? 'tmux is not installed: skipping the terminal test' : false;

t.test('a post arriving while the user types does not garble the typed line', { skip: tmuxMissing }, async (t) => {
  const cluster = await startCluster({ workers: 1 });
  t.teardown(() => cluster.teardown());
  const servers = ['-s', cluster.address(), '-c', cluster.configFile];
  await runFbc(t, ['-u', 'dave', ...servers], ['quit']);
  await runFbc(t, ['-u', 'carol', ...servers], ['join dave', 'quit']);

  // A private tmux server on its own socket, killed (and its socket removed) at teardown.
  const dir = mkdtempSync(join(tmpdir(), 'ftchat-tmux-'));
  const socket = join(dir, 'tmux.sock');
  const tmux = (...args: string[]): string => execFileSync('tmux', ['-S', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  tmux('new-session', '-d', '-s', 'fbc', '-x', '100', '-y', '30', '-e', `XDG_CONFIG_HOME=${fbcConfigHome()}`, `'${FBC}' -u carol ${servers.join(' ')}`);
  const panePid = Number(tmux('display-message', '-p', '-t', 'fbc', '#{pane_pid}').trim());
  t.teardown(() => {
    try {
      process.kill(panePid, 'SIGKILL');
    } catch {
      /* already exited */
    }
    spawnSync('tmux', ['-S', socket, 'kill-server']);
    rmSync(dir, { recursive: true, force: true });
  });
  const screen = (): string[] => tmux('capture-pane', '-p', '-t', 'fbc').split('\n').map((l) => l.trimEnd());
  const lastLine = (): string => screen().filter((l) => l !== '').pop() ?? '';

  await waitFor('the prompt', () => lastLine() === 'carol>');
  tmux('send-keys', '-t', 'fbc', 'chat', 'Enter');
  await waitFor('the chat prompt', () => lastLine() === 'carol (chat)>');
  tmux('send-keys', '-t', 'fbc', '-l', 'half typed');
  await waitFor('the typed text', () => lastLine() === 'carol (chat)> half typed');

  await runFbc(t, ['-u', 'dave', ...servers], ['chat', 'hello tmux', 'quit']);
  await waitFor("dave's post on the screen", () => screen().includes('dave: hello tmux'));
  t.equal(lastLine(), 'carol (chat)> half typed', 'the prompt and the typed text are redrawn intact below the post');
  t.notOk(screen().some((l) => l.includes('half typed') && l.includes('dave')), 'the post and the typed text are not mixed');

  // The typed text is still in readline's buffer: finishing the line posts all of it.
  tmux('send-keys', '-t', 'fbc', '-l', ' and done');
  tmux('send-keys', '-t', 'fbc', 'Enter');
  await waitFor('the completed post', () => screen().includes('carol: half typed and done'));
  tmux('send-keys', '-t', 'fbc', 'quit', 'Enter');
});
