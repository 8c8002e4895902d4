/** The client's command language, in both modes, as the contract states it. */
import t from 'tap';
import { CHAT_MODE_FOLLOW_REFUSAL, helpLines, parseLine } from '../../lib/client/commands';

t.test('command mode understands every command, case-insensitively', async (t) => {
  t.same(parseLine('join bob', 'command'), { kind: 'join', room: 'bob' });
  t.same(parseLine('JOIN bob', 'command'), { kind: 'join', room: 'bob' });
  t.same(parseLine('  Leave   bob  ', 'command'), { kind: 'leave', room: 'bob' });
  t.same(parseLine('LIST', 'command'), { kind: 'list', prefix: '' });
  t.same(parseLine('More', 'command'), { kind: 'more' });
  t.same(parseLine('Chat', 'command'), { kind: 'chat' });
  t.same(parseLine('hElP', 'command'), { kind: 'help' });
});

t.test('room names keep their case; only the command word is case-insensitive', async (t) => {
  t.same(parseLine('JOIN Bob', 'command'), { kind: 'join', room: 'Bob' });
});

t.test('a bare leave or quit disconnects, from either mode', async (t) => {
  for (const mode of ['command', 'chat'] as const) {
    t.same(parseLine('leave', mode), { kind: 'quit' }, `leave in ${mode} mode`);
    t.same(parseLine('QUIT', mode), { kind: 'quit' }, `quit in ${mode} mode`);
  }
});

t.test('blank lines do nothing in either mode', async (t) => {
  for (const mode of ['command', 'chat'] as const) {
    t.same(parseLine('', mode), { kind: 'nothing' });
    t.same(parseLine('   \t ', mode), { kind: 'nothing' });
  }
});

t.test('bad usernames in join and leave are refused with the reason', async (t) => {
  for (const bad of ['../etc', '.hidden', '-dash', 'a'.repeat(33), 'semi;colon']) {
    const c = parseLine(`join ${bad}`, 'command');
    t.equal(c.kind, 'error', bad);
    t.match((c as { message: string }).message, /username/, bad);
  }
  t.equal(parseLine('leave ../x', 'command').kind, 'error');
});

t.test('join and leave need exactly one user', async (t) => {
  t.same(parseLine('join', 'command'), { kind: 'error', message: 'usage: join <user>' });
  t.same(parseLine('join a b', 'command'), { kind: 'error', message: 'usage: join <user>' });
  t.same(parseLine('leave a b', 'command'), { kind: 'error', message: 'usage: leave <user>' });
});

t.test('unknown commands get a hint mentioning help', async (t) => {
  const c = parseLine('frobnicate now', 'command');
  t.equal(c.kind, 'error');
  t.match((c as { message: string }).message, /unknown command 'frobnicate'.*help/);
  t.match((parseLine('more pages', 'command') as { message: string }).message, /help/);
});

t.test('list takes an optional prefix, kept as typed', async (t) => {
  t.same(parseLine('list al', 'command'), { kind: 'list', prefix: 'al' });
  t.same(parseLine('LiSt Al', 'command'), { kind: 'list', prefix: 'Al' }, 'the command word is case-insensitive, the prefix is not');
  t.same(parseLine('list a b', 'command'), { kind: 'error', message: 'usage: list [prefix]' });
});

t.test('exit in command mode explains how to disconnect', async (t) => {
  const c = parseLine('exit', 'command');
  t.equal(c.kind, 'error');
  t.match((c as { message: string }).message, /quit/);
});

t.test('in chat mode every other line is a post', async (t) => {
  t.same(parseLine('hello world', 'chat'), { kind: 'post', text: 'hello world' });
  t.same(parseLine('  list  ', 'chat'), { kind: 'post', text: 'list' });
  t.same(parseLine('more', 'chat'), { kind: 'post', text: 'more' });
  t.same(parseLine('chat', 'chat'), { kind: 'post', text: 'chat' });
  t.same(parseLine('exit stage left', 'chat'), { kind: 'post', text: 'exit stage left' });
});

t.test('exit returns from chat mode, case-insensitively', async (t) => {
  t.same(parseLine('exit', 'chat'), { kind: 'exit' });
  t.same(parseLine(' EXIT ', 'chat'), { kind: 'exit' });
});

t.test('join and leave are refused in chat mode with a clear message', async (t) => {
  for (const line of ['join bob', 'JOIN bob', 'leave bob', 'Leave bob', 'join']) {
    t.same(parseLine(line, 'chat'), { kind: 'error', message: CHAT_MODE_FOLLOW_REFUSAL }, line);
  }
  t.match(CHAT_MODE_FOLLOW_REFUSAL, /type 'exit'/);
});

t.test('help lists the commands of the current mode', async (t) => {
  t.same(parseLine('help', 'chat'), { kind: 'help' });
  const command = helpLines('command').join('\n');
  const chat = helpLines('chat').join('\n');
  for (const word of ['join <user>', 'leave <user>', 'list [prefix]', 'more', 'chat', 'quit']) t.match(command, word);
  t.match(chat, 'exit');
  t.notMatch(chat, 'join');
});
