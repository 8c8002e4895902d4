/**
 * The client keeps working when servers die: it skips an unreachable server in
 * its -s list, and when the worker serving its chat stream is SIGKILLed it
 * resumes the stream elsewhere from its cursor, with no gap and no duplicate, and
 * says so in plain words (no internal ids).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
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
  t.equal(r.out[0], `connected as hopper to m1 (${cluster.address()}); type 'help' for commands`);
  t.ok(r.out.includes('hopper: made it'), 'a post goes through the live server');
});

/** The inodes of a process's sockets. */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      /* closed meanwhile */
    }
  }
  return inodes;
}

/** Established TCP connections of this network namespace: local and remote port, inode. */
function tcpConnections(): { local: number; remote: number; inode: string }[] {
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length > 9 && f[3] === '01')
      .map((f) => ({ local: parseInt(f[1].split(':')[1], 16), remote: parseInt(f[2].split(':')[1], 16), inode: f[9] })),
  );
}

/** Which of `workers` holds the other end of the client's connection to `port` (fbc names no worker). */
function servingWorker(clientPid: number, port: number, workers: { pid: number }[]): { pid: number } | undefined {
  const conns = tcpConnections();
  const mine = socketInodes(clientPid);
  const clientPorts = new Set(conns.filter((c) => mine.has(c.inode) && c.remote === port).map((c) => c.local));
  return workers.find((w) => {
    const theirs = socketInodes(w.pid);
    return conns.some((c) => theirs.has(c.inode) && c.local === port && clientPorts.has(c.remote));
  });
}

t.test('the client resumes its stream on the other worker after its worker is SIGKILLed; every later post is printed exactly once', async (t) => {
  const dead = `127.0.0.1:${await freePort()}`;
  const servers = ['-s', `${dead},${cluster.address()}`];
  const bob = spawnFbc(t, ['-u', 'bob', ...servers]);
  bob.send('chat');
  await bob.waitOut('bob in chat mode', (l) => l.startsWith('chat mode'));

  const alice = spawnFbc(t, ['-u', 'alice', ...servers]);
  await alice.waitOut('connected', (l) => l.startsWith('connected as alice'));
  alice.send('join bob');
  alice.send('chat');
  await alice.waitOut('alice in chat mode', (l) => l.startsWith('chat mode'));
  bob.send('before the crash');
  await alice.waitOut('a post before the crash', (l) => l === 'bob: before the crash');

  const workers = await Promise.all([0, 1].map((slot) => cluster.upProcess('m1', 'worker', slot)));
  const port = Number(cluster.address().split(':')[1]);
  const serving = servingWorker(alice.proc.pid!, port, workers);
  t.ok(serving, "alice's worker found by her connection");
  process.kill(serving!.pid, 'SIGKILL');

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
  t.notOk(alice.err.some((l) => /\bm1\.\w+\.w\d/.test(l)), 'the notes name no worker slot');
  for (const p of [alice, bob]) p.send('quit');
  t.equal(await alice.exited, 0);
  t.equal(await bob.exited, 0);
  t.equal(bob.out.filter((l) => l.startsWith('bob: after the crash')).length, after.length, 'bob saw each of its posts once');
});
