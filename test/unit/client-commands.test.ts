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
  for (const word of ['join <user>', 'leave <user>', 'list [prefix]', 'more', 'chat', 'quit']) t.match(command, word);
});

t.test("chat mode's help names exactly the words that are commands there, and how to post them", async (t) => {
  const lines = helpLines('chat');
  // The words the help lists (its indented first column) against what the parser takes as commands.
  const named = lines.flatMap((l) => /^ {2}(\S.*?) {2,}/.exec(l)?.[1].split(' | ') ?? []).map((w) => w.replace(' <user>', ''));
  const words = ['join', 'leave', 'list', 'more', 'chat', 'help', 'quit', 'exit', 'say'];
  const commands = words.filter((w) => parseLine(w, 'chat').kind !== 'post' || parseLine(`${w} bob`, 'chat').kind !== 'post');
  t.same([...new Set(named)].sort(), commands.sort(), 'the help names exactly the words that are not posted');
  const chat = lines.join('\n');
  t.match(chat, '/say <text>');
  t.match(chat, '//');
  // What the help says is what the parser does.
  for (const word of ['exit', 'help', 'leave', 'quit']) t.not(parseLine(word, 'chat').kind, 'post', `${word} is a command`);
  t.equal(parseLine('join bob', 'chat').kind, 'error');
  t.same(parseLine('/say exit', 'chat'), { kind: 'post', text: 'exit' });
  t.same(parseLine('//shrug', 'chat'), { kind: 'post', text: '/shrug' });
});

t.test('in chat mode a slash word is a command or refused, never posted', async (t) => {
  t.same(parseLine('/quit', 'chat'), { kind: 'quit' });
  t.same(parseLine('/QUIT', 'chat'), { kind: 'quit' });
  t.same(parseLine('/leave', 'chat'), { kind: 'quit' });
  t.same(parseLine('/exit', 'chat'), { kind: 'exit' });
  t.same(parseLine('/help', 'chat'), { kind: 'help' });
  t.same(parseLine('/join bob', 'chat'), { kind: 'error', message: CHAT_MODE_FOLLOW_REFUSAL });
  t.same(parseLine('/leave bob', 'chat'), { kind: 'error', message: CHAT_MODE_FOLLOW_REFUSAL });
  for (const line of ['/me waves', '/nick alice', '/', '/quit now', '/say', '/list']) {
    const c = parseLine(line, 'chat');
    t.equal(c.kind, 'error', `${line} is not posted`);
  }
  t.match((parseLine('/me waves', 'chat') as { message: string }).message, /unknown command '\/me'.*'\/\/me' to post it as text/);
  t.match((parseLine('/say', 'chat') as { message: string }).message, 'usage: /say <text>');
});

t.test('/say posts the rest of the line as typed', async (t) => {
  t.same(parseLine('/say  Exit  stage left', 'chat'), { kind: 'post', text: 'Exit  stage left' });
  t.same(parseLine('/SAY help', 'chat'), { kind: 'post', text: 'help' });
});

t.test('command mode takes the IRC habit of a leading slash too', async (t) => {
  t.same(parseLine('/quit', 'command'), { kind: 'quit' });
  t.same(parseLine('/join bob', 'command'), { kind: 'join', room: 'bob' });
});

t.test('a mistyped command gets a suggestion', async (t) => {
  const message = (line: string, mode: 'command' | 'chat' = 'command'): string => (parseLine(line, mode) as { message: string }).message;
  t.match(message('jion bob'), "unknown command 'jion'; did you mean 'join'?");
  t.match(message('JION bob'), "did you mean 'join'?", 'case-insensitive');
  t.match(message('lsit'), "did you mean 'list'?");
  t.match(message('hlep'), "did you mean 'help'?");
  t.match(message('qiut'), "did you mean 'quit'?");
  t.match(message('caht'), "did you mean 'chat'?");
  t.match(message('leaev bob'), "did you mean 'leave'?");
  t.match(message('/qiut', 'chat'), "did you mean '/quit'?");
  t.match(message('/exti', 'chat'), "did you mean '/exit'?");
  t.notMatch(message('frobnicate'), 'did you mean', 'no suggestion for a word far from every command');
  t.notMatch(message('xyz'), 'did you mean');
});
