/**
 * The client in a real terminal (tmux): a message that arrives while the user is
 * typing is printed above the prompt, and the half-typed line stays intact.
 */
import t from 'tap';
import { fbcConfigHome, runFbc } from '../helpers/fbc';
import { FBC, startCluster } from '../helpers/server';
import { openTerminal, tmuxMissing } from '../helpers/tmux';
import { waitFor } from '../helpers/wait';

t.test('a post arriving while the user types does not garble the typed line', { skip: tmuxMissing }, async (t) => {
  const cluster = await startCluster({ workers: 1 });
  t.teardown(() => cluster.teardown());
  const servers = ['-s', cluster.address(), '-c', cluster.configFile];
  await runFbc(t, ['-u', 'dave', ...servers], ['quit']);
  await runFbc(t, ['-u', 'carol', ...servers], ['join dave', 'quit']);

  const term = openTerminal(`'${FBC}' -u carol ${servers.join(' ')}`, { env: { XDG_CONFIG_HOME: fbcConfigHome() } });
  t.teardown(() => term.close());
  const screen = (): string[] => term.screen();
  const lastLine = (): string => screen().filter((l) => l !== '').pop() ?? '';

  await waitFor('the prompt', () => lastLine() === 'carol>');
  term.keys('chat', 'Enter');
  await waitFor('the chat prompt', () => lastLine() === 'carol (chat)>');
  term.keys('-l', 'half typed');
  await waitFor('the typed text', () => lastLine() === 'carol (chat)> half typed');

  await runFbc(t, ['-u', 'dave', ...servers], ['chat', 'hello tmux', 'quit']);
  await waitFor("dave's post on the screen", () => screen().includes('dave: hello tmux'));
  t.equal(lastLine(), 'carol (chat)> half typed', 'the prompt and the typed text are redrawn intact below the post');
  t.notOk(screen().some((l) => l.includes('half typed') && l.includes('dave')), 'the post and the typed text are not mixed');

  // The typed text is still in readline's buffer: finishing the line posts all of it.
  term.keys('-l', ' and done');
  term.keys('Enter');
  await waitFor('the completed post', () => screen().includes('carol: half typed and done'));
  term.keys('quit', 'Enter');
});
