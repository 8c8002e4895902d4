/**
 * Usernames name rooms and room files: 1-32 of [A-Za-z0-9_.-], not starting with
 * '.' or '-'; anything else is refused with a clear one-line message.
 */
import t from 'tap';
import { isUsername, usernameError } from '../../lib/core/usernames';

t.test('names within the contract are accepted', async (t) => {
  for (const name of ['a', 'Z', '0', '_', 'alice', 'Bob_99', 'a.b', 'a-b', 'a..b', 'x.', 'x-', '_hidden', '9lives', 'x'.repeat(32)]) {
    t.equal(usernameError(name), null, `accepts ${JSON.stringify(name)}`);
    t.ok(isUsername(name));
  }
});

t.test('path tricks and names outside the contract are refused with a clear message', async (t) => {
  const refused: [string, unknown, RegExp][] = [
    ['empty', '', /username is required/],
    ['not a string', 42, /username is required/],
    ['undefined', undefined, /username is required/],
    ['parent dir', '..', /not starting with '\.'/],
    ['current dir', '.', /not starting with '\.'/],
    ['parent path', '../x', /bad username '\.\.\/x'/],
    ['a path', 'a/b', /bad username 'a\/b'/],
    ['a Windows path', 'a\\b', /bad username/],
    ['an absolute path', '/etc/passwd', /bad username/],
    ['a dot file', '.bashrc', /not starting with '\.'/],
    ['an option-like name', '-rf', /not starting with '\.' or '-'/],
    ['33 chars', 'x'.repeat(33), /at most 32 characters/],
    ['a space', 'al ice', /bad username/],
    ['unicode', 'alïce', /bad username/],
    ['emoji', '🌍', /bad username/],
    ['a newline at the end', 'alice\n', /bad username/],
    ['a NUL byte', 'al\u0000ice', /bad username/],
    ['an escape sequence', '\u001b[31mred', /bad username/],
    ['a colon', 'a:b', /bad username/],
  ];
  for (const [what, name, message] of refused) {
    const err = usernameError(name);
    t.match(err, message, `refuses ${what}`);
    t.notOk(isUsername(name));
    t.notOk(/[\u0000-\u001f\u007f]/.test(err ?? ''), `${what}: the message is one clean line`);
  }
});

t.test('the message echoes long input bounded', async (t) => {
  const err = usernameError('y'.repeat(5000)) ?? '';
  t.ok(err.length < 120, `message is ${err.length} chars`);
  t.match(err, /at most 32 characters/);
});
