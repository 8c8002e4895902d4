/**
 * The `./fbc` client as users and scripts drive it: the real executable over
 * pipes against a real one-machine cluster, checking what the contract's
 * "Client" section promises.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { CHAT_MODE_FOLLOW_REFUSAL } from '../../lib/client/commands';
import { fbcConfigHome, newConfigHome, runFbc, spawnFbc } from '../helpers/fbc';
import { startCluster, type TestCluster } from '../helpers/server';

let cluster: TestCluster;
let servers: string[];
t.before(async () => {
  cluster = await startCluster({ workers: 2 });
  servers = ['-s', cluster.address()];
});
t.teardown(() => cluster.teardown());

/** Every line of `lines` appears in `out`, in that order. */
function inOrder(out: string[], lines: string[]): boolean {
  let at = -1;
  for (const l of lines) {
    const i = out.indexOf(l, at + 1);
    if (i < 0) return false;
    at = i;
  }
  return true;
}

const count = (lines: string[], line: string): number => lines.filter((l) => l === line).length;

t.test('the piped session from the contract works', async (t) => {
  const bob = await runFbc(t, ['-u', 'bob', ...servers], ['chat', 'hello from bob', 'exit', 'leave']);
  t.equal(bob.code, 0);
  const alice = await runFbc(t, ['-u', 'alice', ...servers], ['join bob', 'chat', 'hi', 'exit', 'leave']);
  t.equal(alice.code, 0, 'exit code 0');
  t.same(alice.err, [], 'nothing on stderr');
  t.match(alice.out[0], /^connected as alice to m1 \(127\.0\.0\.1:\d+\)/, 'the machine by name, no internal ids');
  t.ok(inOrder(alice.out, ['alice joined bob', 'bob: hello from bob', 'alice: hi', 'back to command mode']), alice.out.join('\n'));
  t.equal(count(alice.out, 'alice: hi'), 1, 'the own post is printed once');
});

t.test('commands are case-insensitive', async (t) => {
  await runFbc(t, ['-u', 'casey', ...servers], ['quit']);
  const r = await runFbc(t, ['-u', 'kim', ...servers], ['JOIN casey', 'LiSt', 'CHAT', 'Exit', 'LEAVE casey', 'QUIT']);
  t.equal(r.code, 0);
  t.same(r.err, []);
  t.ok(inOrder(r.out, ['kim joined casey', '* casey (following)', 'back to command mode', 'kim left casey']), r.out.join('\n'));
});

t.test('a user sees their own post', async (t) => {
  const me = spawnFbc(t, ['-u', 'selfie', ...servers]);
  await me.waitOut('connected', (l) => l.startsWith('connected as selfie'));
  me.send('chat');
  await me.waitOut('chat mode', (l) => l.startsWith('chat mode'));
  me.send('look at me');
  await me.waitOut('the own post', (l) => l === 'selfie: look at me');
  me.send('and again');
  await me.waitOut('the second post', (l) => l === 'selfie: and again');
  t.equal(count(me.out, 'selfie: look at me'), 1, 'printed once (ack and stream deduplicated)');
  me.send('quit');
  t.equal(await me.exited, 0);
});

t.test('a follower in chat mode sees a post from a room it joined', async (t) => {
  await runFbc(t, ['-u', 'star', ...servers], ['quit']);
  const fan = spawnFbc(t, ['-u', 'fan', ...servers]);
  fan.send('join star');
  fan.send('chat');
  await fan.waitOut('chat mode', (l) => l.startsWith('chat mode'));
  const star = await runFbc(t, ['-u', 'star', ...servers], ['chat', 'new song out', 'exit', 'quit']);
  t.equal(star.code, 0);
  await fan.waitOut("star's post", (l) => l === 'star: new song out');
  fan.send('quit');
  t.equal(await fan.exited, 0);
  t.same(fan.err, []);
});

t.test('chat mode starts with the last 20 messages oldest first', async (t) => {
  const posts = Array.from({ length: 25 }, (_, i) => `message ${i + 1}`);
  const hist = await runFbc(t, ['-u', 'historian', ...servers], ['chat', ...posts, 'exit', 'quit']);
  t.equal(hist.code, 0);
  const r = await runFbc(t, ['-u', 'reader', ...servers], ['join historian', 'chat', 'exit', 'quit']);
  t.equal(r.code, 0);
  const from = r.out.findIndex((l) => l.startsWith('chat mode'));
  const to = r.out.indexOf('back to command mode');
  t.same(
    r.out.slice(from + 1, to),
    posts.slice(5).map((p) => `historian: ${p}`),
  );
});

t.test('join and leave are refused in chat mode by the client', async (t) => {
  await runFbc(t, ['-u', 'host', ...servers], ['quit']);
  const r = await runFbc(t, ['-u', 'guest', ...servers], ['chat', 'join host', 'LEAVE host', 'exit', 'join host', 'leave host', 'quit']);
  t.equal(r.code, 0);
  t.same(r.err, [`error: ${CHAT_MODE_FOLLOW_REFUSAL}`, `error: ${CHAT_MODE_FOLLOW_REFUSAL}`]);
  // Right after exit the server no longer sees chat mode either.
  t.ok(inOrder(r.out, ['back to command mode', 'guest joined host', 'guest left host']), r.out.join('\n'));
  t.equal(count(r.out, 'guest joined host'), 1, 'the refused join was not sent');
});

t.test('notifications of joins and leaves are printed', async (t) => {
  const owner = spawnFbc(t, ['-u', 'owner', ...servers]);
  owner.send('chat');
  await owner.waitOut('chat mode', (l) => l.startsWith('chat mode'));
  const visitor = await runFbc(t, ['-u', 'visitor', ...servers], ['join owner', 'leave owner', 'quit']);
  t.ok(inOrder(visitor.out, ['visitor joined owner', 'visitor left owner']), 'the visitor sees its own join and leave');
  await owner.waitOut('the join', (l) => l === 'visitor joined owner');
  await owner.waitOut('the leave', (l) => l === 'visitor left owner');
  owner.send('quit');
  t.equal(await owner.exited, 0);
});

t.test('join of an unknown user is a one-line error', async (t) => {
  const r = await runFbc(t, ['-u', 'seeker', ...servers], ['join nobody_here', 'list', 'quit']);
  t.equal(r.code, 0, 'the session goes on');
  t.same(r.err, ["error: unknown user 'nobody_here'"]);
  t.ok(r.out.includes('* seeker (your room)'), 'the next command still runs');
});

t.test('an unknown command gets a hint mentioning help', async (t) => {
  const r = await runFbc(t, ['-u', 'newbie', ...servers], ['dance', 'help', 'quit']);
  t.equal(r.code, 0);
  t.same(r.err, ["error: unknown command 'dance'; type 'help' for the commands"]);
  t.ok(r.out.some((l) => l.includes('join <user>')), 'help lists the commands');
});

t.test('a mistyped command gets a suggestion, and runs nothing', async (t) => {
  await runFbc(t, ['-u', 'typed', ...servers], ['quit']);
  const r = await runFbc(t, ['-u', 'typist', ...servers], ['jion typed', 'join typed', 'quit']);
  t.equal(r.code, 0);
  t.same(r.err, ["error: unknown command 'jion'; did you mean 'join'? type 'help' for the commands"]);
  t.equal(count(r.out, 'typist joined typed'), 1, 'only the corrected command joined');
});

t.test("chat mode's command words and slash words are never posted; /say and // post them as text", async (t) => {
  const r = await runFbc(t, ['-u', 'ircfan', ...servers], ['chat', 'help', '/me waves', '/qiut', '/say exit', '//shrug', 'plain words', '/exit', 'chat', '/quit']);
  t.equal(r.code, 0, '/quit disconnects');
  t.ok(r.out.some((l) => l.includes('join | leave <user>')), 'help in chat mode names the refused words too');
  t.same(r.err, [
    "error: unknown command '/me'; type 'help' for chat mode's commands, or '//me' to post it as text",
    "error: unknown command '/qiut'; did you mean '/quit'? type 'help' for chat mode's commands, or '//qiut' to post it as text",
  ]);
  t.ok(inOrder(r.out, ['ircfan: exit', 'ircfan: /shrug', 'ircfan: plain words', 'back to command mode']), r.out.join('\n'));
  const posts = r.out.filter((l) => l.startsWith('ircfan: '));
  t.same([...new Set(posts)], ['ircfan: exit', 'ircfan: /shrug', 'ircfan: plain words'], 'nothing else was posted');
});

t.test('a person refused a name keeps no key file for it', async (t) => {
  await runFbc(t, ['-u', 'taken', ...servers], ['quit']);
  const stranger = newConfigHome();
  const r = await runFbc(t, ['-u', 'taken', ...servers], ['chat', 'I am taken', 'exit'], stranger);
  t.equal(r.code, 1);
  t.same(r.err, ["error: taken belongs to another key: choose another name, or bring taken's key file"]);
  t.notOk(existsSync(join(stranger, 'ftchat', 'taken.key')), 'the key made for the refused name is gone');
  t.ok(existsSync(join(fbcConfigHome(), 'ftchat', 'taken.key')), "the name's own key stays");
  const own = await runFbc(t, ['-u', 'mine', ...servers], ['quit'], stranger);
  t.equal(own.code, 0, 'the stranger takes a free name');
  t.ok(existsSync(join(stranger, 'ftchat', 'mine.key')), 'and keeps its key');
});

t.test('at end of input the pending post is stored and the client exits 0', async (t) => {
  const r = await runFbc(t, ['-u', 'lastword', ...servers], ['chat', 'famous last words']);
  t.equal(r.code, 0);
  t.ok(r.out.includes('lastword: famous last words'));
  const check = await runFbc(t, ['-u', 'lastword', ...servers], ['chat']);
  t.ok(check.out.includes('lastword: famous last words'), 'the post is stored');
});
