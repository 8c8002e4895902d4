/**
 * "Availability under partition": a machine whose network interface goes down
 * keeps serving its own clients; when the link is back, everything converges —
 * nothing lost, nothing doubled. Each machine runs in its own network namespace
 * (a veth on a bridge), and the link is really set down.
 */
import t, { type Test } from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createNetLab, netLabUnavailable, type NetLab } from '../helpers/netns';
import { eachLine } from '../../lib/common/lines';
import { FBC, REPO, converged, dumpEvents, startCluster, type TestCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { fbcConfigHome } from '../helpers/fbc';

const MACHINES = ['m1', 'm2', 'm3'];
const unavailable = netLabUnavailable();

/** The real ./fbc, run inside a machine's namespace, talking to that machine only. */
function fbcIn(t: Test, lab: NetLab, cluster: TestCluster, machine: string, user: string) {
  const [cmd, ...args] = [...lab.prefix(machine), FBC, '-u', user, '-s', cluster.address(machine), '-c', cluster.configFile];
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, XDG_CONFIG_HOME: fbcConfigHome() } });
  const out: string[] = [];
  eachLine(proc.stdout, (line) => out.push(line));
  proc.stderr.resume();
  t.teardown(() => {
    if (proc.exitCode === null && proc.pid) process.kill(proc.pid, 'SIGKILL');
  });
  return {
    out,
    send: (line: string) => proc.stdin.write(`${line}\n`),
    waitOut: (what: string, pred: (l: string) => boolean, ms = 30_000) => waitFor(what, () => out.find(pred), ms),
  };
}

t.test('a machine cut off keeps serving its own clients, and everything converges when the link is back', { skip: unavailable ?? false }, async (t) => {
  const lab = createNetLab(MACHINES);
  t.teardown(() => lab.teardown());
  const cluster = await startCluster({
    machines: MACHINES,
    guardians: 1,
    hosts: Object.fromEntries(MACHINES.map((m) => [m, lab.ip(m)])),
    launch: Object.fromEntries(MACHINES.map((m) => [m, { prefix: lab.prefix(m) }])),
  });
  t.teardown(() => cluster.teardown());

  const alice = fbcIn(t, lab, cluster, 'm1', 'alice');
  const carol = fbcIn(t, lab, cluster, 'm3', 'carol');
  await alice.waitOut('alice connected', (l) => l.startsWith('connected as'));
  await carol.waitOut('carol connected', (l) => l.startsWith('connected as'));
  // Each must know the other's room before joining it: wait for the rooms to replicate.
  await converged(cluster, MACHINES);
  alice.send('join carol');
  carol.send('join alice');
  await alice.waitOut('alice joined', (l) => l.includes('alice joined carol'));
  await carol.waitOut('carol joined', (l) => l.includes('carol joined alice'));
  await converged(cluster, MACHINES);
  alice.send('chat');
  carol.send('chat');
  await alice.waitOut('alice in chat mode', (l) => l.startsWith('chat mode'));
  await carol.waitOut('carol in chat mode', (l) => l.startsWith('chat mode'));

  lab.linkDown('m3');
  const posts = { alice: [] as string[], carol: [] as string[] };
  for (let i = 0; i < 8; i++) {
    for (const [name, who] of [['alice', alice], ['carol', carol]] as const) {
      const text = `${name} during the partition ${i}`;
      posts[name].push(text);
      who.send(text);
      await who.waitOut(`${name}'s own post ${i} (stored on her side)`, (l) => l === `${name}: ${text}`);
    }
  }
  t.notOk(alice.out.some((l) => l.startsWith('carol: carol during')), 'across the cut, nothing arrives while the link is down');
  // A new name cannot be settled on the cut-off side (one machine of three), while carol posts there.
  const connectOnce = [...lab.prefix('m3'), process.execPath, join(REPO, 'dist', 'test', 'helpers', 'connect-once.js'), cluster.configFile, cluster.address('m3'), 'newcomer'];
  const refused = JSON.parse(execFileSync(connectOnce[0], connectOnce.slice(1), { encoding: 'utf8' }));
  t.same(refused, { code: 'UNAVAILABLE', details: 'cannot settle the new name newcomer now: 1 of 3 machines answered, and a majority (2) must; users who exist already can still connect here' }, 'a new name is refused on the minority side in one line');
  carol.send('carol after the refusal');
  posts.carol.push('carol after the refusal');
  await carol.waitOut("carol's post after the refusal", (l) => l === 'carol: carol after the refusal');
  lab.linkUp('m3');

  const dump = await converged(cluster, MACHINES, 90_000);
  const stored = dumpEvents(dump).filter((e) => e.kind === 'post');
  for (const name of ['alice', 'carol'] as const) {
    t.same(stored.filter((e) => e.author === name).map((e) => e.text).sort(), [...posts[name]].sort(), `every post of ${name} stored once, on every machine`);
  }
  for (const text of posts.carol) await alice.waitOut(`alice sees "${text}" after the heal`, (l) => l === `carol: ${text}`, 60_000);
  for (const text of posts.alice) await carol.waitOut(`carol sees "${text}" after the heal`, (l) => l === `alice: ${text}`, 60_000);
  for (const text of posts.carol) t.equal(alice.out.filter((l) => l === `carol: ${text}`).length, 1, `alice saw "${text}" once`);
  for (const text of posts.alice) t.equal(carol.out.filter((l) => l === `alice: ${text}`).length, 1, `carol saw "${text}" once`);
});
