/**
 * The client keeps working when servers die: it skips an unreachable server in
 * its -s list, and when the worker serving its chat stream is SIGKILLed it
 * resumes the stream elsewhere from its cursor, with no gap and no duplicate.
 */
import t from 'tap';
import { runFbc, spawnFbc } from '../helpers/fbc';
import { freePort, startCluster, type TestCluster } from '../helpers/server';

let cluster: TestCluster;
t.before(async () => {
  cluster = await startCluster({ workers: 2 });
});
t.teardown(() => cluster.teardown());

t.test('the client fails over to the next server in -s', async (t) => {
  const dead = `127.0.0.1:${await freePort()}`; // nothing listens there
  const r = await runFbc(t, ['-u', 'hopper', '-s', `${dead},${cluster.address()}`], ['chat', 'made it', 'exit', 'quit']);
  t.equal(r.code, 0);
  t.same(r.err, [], 'no error: the dead server is skipped silently');
  t.match(r.out[0], `connected as hopper (server m1 at ${cluster.address()}`);
  t.ok(r.out.includes('hopper: made it'), 'a post goes through the live server');
});

t.test('the client resumes its stream on the other worker after its worker is SIGKILLed; every later post is printed exactly once', async (t) => {
  const dead = `127.0.0.1:${await freePort()}`;
  const servers = ['-s', `${dead},${cluster.address()}`];
  const bob = spawnFbc(t, ['-u', 'bob', ...servers]);
  bob.send('chat');
  await bob.waitOut('bob in chat mode', (l) => l.startsWith('chat mode'));

  const alice = spawnFbc(t, ['-u', 'alice', ...servers]);
  const hello = await alice.waitOut('connected', (l) => l.startsWith('connected as alice'));
  const worker = /worker (\S+)\)/.exec(hello)?.[1];
  t.ok(worker, `the client names its worker: ${hello}`);
  alice.send('join bob');
  alice.send('chat');
  await alice.waitOut('alice in chat mode', (l) => l.startsWith('chat mode'));
  bob.send('before the crash');
  await alice.waitOut('a post before the crash', (l) => l === 'bob: before the crash');

  const [machine, , slot] = String(worker).split('.'); // an origin: m1.3fa2c1.w0
  const serving = await cluster.upProcess(machine, 'worker', Number(slot.slice(1)));
  process.kill(serving.pid, 'SIGKILL');

  const after = Array.from({ length: 5 }, (_, i) => `after the crash ${i + 1}`);
  for (const p of after) bob.send(p);
  await alice.waitErr('the stream to break', (l) => l.startsWith('note: chat stream interrupted'));
  for (const p of after) await alice.waitOut(p, (l) => l === `bob: ${p}`);
  bob.send('the end');
  await alice.waitOut('the last post', (l) => l === 'bob: the end');

  const order = ['before the crash', ...after, 'the end'].map((p) => `bob: ${p}`);
  t.same(alice.out.filter((l) => order.includes(l)), order, 'in the order they were posted');
  t.comment(alice.err.join('\n'));
  for (const p of ['before the crash', ...after, 'the end']) {
    t.equal(alice.out.filter((l) => l === `bob: ${p}`).length, 1, `"${p}" printed exactly once`);
  }
  t.same(
    alice.err.filter((l) => l.startsWith('error:')),
    [],
    'no errors: the failover is invisible apart from the notes',
  );
  for (const p of [alice, bob]) p.send('quit');
  t.equal(await alice.exited, 0);
  t.equal(await bob.exited, 0);
  t.equal(bob.out.filter((l) => l.startsWith('bob: after the crash')).length, after.length, 'bob saw each of its posts once');
});
