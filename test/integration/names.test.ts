/**
 * A name belongs to one key on every machine, even while machines lag or race
 * (issue 18; docs/names.md), on one 3-machine cluster over real TLS:
 * - a new name's create carries the proof of a majority's votes, and every dump agrees;
 * - names are unique without regard to case: "Alice" is refused once "alice" exists,
 *   with one line, on every machine;
 * - two machines racing one new name, 20 times: exactly one key gets a token, the
 *   other is refused, and nothing of the loser is stored anywhere;
 * - a machine whose replicator is paused (lagging) gives a stranger no token for a
 *   name that exists elsewhere, and nothing of the stranger shows anywhere;
 * - a machine rebuilt from an empty data dir gives a stranger no token for an existing
 *   name, before its peers are back (it has learned nothing) and once one is.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { fingerprint, keyText } from '../../lib/core/identity';
import { proofError } from '../../lib/core/name-proof';
import { proofTrust } from '../../lib/common/name-trust';
import { loadConfig } from '../../lib/common/config';
import { Keyring } from '../../lib/client/identity';
import { call, converged, dumpEvents, outcome, ownConnection, pauseReplicator, RAISED_QUOTAS, startCluster, type TestCluster } from '../helpers/server';

const MACHINES = ['m1', 'm2', 'm3'];
let cluster: TestCluster;
t.before(async () => {
  cluster = await startCluster({ machines: MACHINES, workers: 1, guardians: 1, quotas: RAISED_QUOTAS });
});
t.teardown(() => cluster.teardown());

/** What a call gets whose client could not open a session (its Connect was refused). */
const NO_SESSION = 'UNAUTHENTICATED: no session token: connect again';
const otherKey = (u: string): string => `PERMISSION_DENIED: ${u} belongs to another key: choose another name, or bring ${u}'s key file`;

/** A person: their own keys, and a connection of their own to a machine. */
function person(t: Parameters<typeof ownConnection>[0], machine: string, keys = new Keyring()) {
  return { keys, client: ownConnection(t, cluster.address(machine), keys) };
}

t.test("a new name's create carries a majority's proof, which every machine checks alike", async (t) => {
  const alice = person(t, 'm1');
  const greeting = await call(alice.client, 'Connect', { user: 'alice' });
  t.ok(greeting.created);
  const dump = await converged(cluster, MACHINES);
  const create = dumpEvents(dump).find((e) => e.id === 'create/alice')!;
  const raw = alice.keys.identity('alice').publicKey;
  t.equal(create.text, keyText(raw));
  t.equal(create.key, fingerprint(raw), 'the create records its key');
  t.equal(proofError(String(create.proof), { name: 'alice', key: create.text }, proofTrust(loadConfig(cluster.configFile))), null, 'its proof verifies with the cluster CA');
  t.equal(await outcome(call(person(t, 'm2').client, 'Connect', { user: 'alice' })), otherKey('alice'), 'another key is refused on another machine');
});

t.test('names are unique without regard to case', async (t) => {
  await call(person(t, 'm1').client, 'Connect', { user: 'casey' });
  for (const m of ['m1', 'm3']) {
    t.equal(await outcome(call(person(t, m).client, 'Connect', { user: 'Casey' })), 'ALREADY_EXISTS: Casey is taken: names are unique without regard to case, and casey exists', `refused on ${m}`);
  }
  const mixed = person(t, 'm2');
  await call(mixed.client, 'Connect', { user: 'MiXed' });
  t.equal(await outcome(call(person(t, 'm3').client, 'Connect', { user: 'mixed' })), 'ALREADY_EXISTS: mixed is taken: names are unique without regard to case, and MiXed exists');
  t.equal(await outcome(call(mixed.client, 'Connect', { user: 'MiXed' })), 'OK', 'the owner, spelled as created, connects again');
  const dump = await converged(cluster, MACHINES);
  t.same(dumpEvents(dump).filter((e) => e.kind === 'create' && /^(casey|mixed)$/i.test(String(e.room))).map((e) => String(e.room)).sort(), ['MiXed', 'casey'], 'one room each');
});

t.test('two machines racing one new name, 20 runs: one key wins, the loser gets no token and leaves nothing', async (t) => {
  const results: string[] = [];
  for (let run = 0; run < 20; run++) {
    const name = `race${run}`;
    const [a, b] = [person(t, 'm1'), person(t, 'm2')];
    const outcomes = await Promise.all([a, b].map((p) => outcome(call(p.client, 'Connect', { user: name }))));
    results.push(outcomes.map((o) => (o === 'OK' ? 'OK' : o === otherKey(name) ? 'refused' : o)).sort().join(' + '));
    const winner = outcomes[0] === 'OK' ? a : b;
    // The winner acts at once; the loser's session, had it one, would act too.
    await call(winner.client, 'Post', { user: name, text: `${name} is mine` });
    const loser = winner === a ? b : a;
    t.equal(await outcome(call(loser.client, 'Post', { user: name, text: 'mine too?' })), NO_SESSION, `run ${run}: the loser has no session to post with`);
  }
  t.same(results, Array(20).fill('OK + refused'), 'each run: exactly one token');
  const dump = await converged(cluster, MACHINES, 60_000);
  const events = dumpEvents(dump);
  for (let run = 0; run < 20; run++) {
    const creates = events.filter((e) => e.id === `create/race${run}`);
    const posts = events.filter((e) => e.kind === 'post' && e.room === `race${run}`);
    t.same([creates.length, posts.map((p) => p.text)], [1, [`race${run} is mine`]], `run ${run}: one create, the winner's post only`);
    t.equal(posts[0]?.key, creates[0]?.key, `run ${run}: the post is by the room's key`);
  }
});

t.test('a lagging machine gives a stranger no token for a name it has not learned, and nothing of the stranger shows', async (t) => {
  const owner = person(t, 'm1');
  await call(owner.client, 'Connect', { user: 'victim' });
  await call(owner.client, 'Post', { user: 'victim', text: 'the real victim' });
  await call(person(t, 'm1').client, 'Connect', { user: 'other' });
  // m2 hears nothing from its peers while its replicator is stopped: it has no victim.
  const resume = pauseReplicator(cluster, 'm2');
  t.teardown(resume);
  const stranger = person(t, 'm2');
  t.equal(await outcome(call(stranger.client, 'Connect', { user: 'victim' })), otherKey('victim'), 'the stranger is refused on the lagging machine');
  t.equal(await outcome(call(stranger.client, 'Post', { user: 'victim', text: 'I am the victim' })), NO_SESSION, 'and has no session to post with');
  t.equal(await outcome(call(stranger.client, 'Join', { user: 'victim', room: 'other' })), NO_SESSION, 'or to join with');
  resume();
  const dump = await converged(cluster, MACHINES, 60_000);
  const strangerKey = fingerprint(stranger.keys.identity('victim').publicKey);
  t.same(dumpEvents(dump).filter((e) => e.key === strangerKey || e.text.includes('I am the victim')), [], "nothing of the stranger's is stored on any machine");
  t.same(dumpEvents(dump).filter((e) => e.room === 'victim').map((e) => e.kind), ['create', 'post'], "the owner's room holds the owner's create and post");
});

t.test('a machine rebuilt from an empty data dir gives a stranger no token for a name it has not learned', async (t) => {
  const owner = person(t, 'm1');
  await call(owner.client, 'Connect', { user: 'keeper' });
  await call(owner.client, 'Post', { user: 'keeper', text: 'kept' });
  await converged(cluster, MACHINES);
  await Promise.all(MACHINES.map((m) => cluster.stop(m)));
  rmSync(join(cluster.dir, 'data', 'm3'), { recursive: true, force: true });
  // m3 starts alone from nothing: it cannot have learned keeper from anyone.
  await cluster.start('m3');
  const stranger = person(t, 'm3');
  t.match(await outcome(call(stranger.client, 'Connect', { user: 'keeper' })), /^UNAVAILABLE: cannot settle the new name keeper now: /, 'alone, it refuses the name as one it cannot settle');
  t.equal(await outcome(call(stranger.client, 'Post', { user: 'keeper', text: 'I am keeper' })), NO_SESSION, 'and the stranger has no session');
  await cluster.start('m2');
  t.equal(await outcome(call(person(t, 'm3', stranger.keys).client, 'Connect', { user: 'keeper' })), otherKey('keeper'), 'with one peer back, the name is known as the owner\'s');
  await cluster.start('m1');
  const back = person(t, 'm3', owner.keys);
  await call(back.client, 'Connect', { user: 'keeper' });
  await call(back.client, 'Post', { user: 'keeper', text: 'back on m3' });
  const dump = await converged(cluster, MACHINES, 60_000);
  const strangerKey = fingerprint(stranger.keys.identity('keeper').publicKey);
  t.same(dumpEvents(dump).filter((e) => e.key === strangerKey || e.text === 'I am keeper'), [], "nothing of the stranger's is stored on any machine");
  t.same(dumpEvents(dump).filter((e) => e.room === 'keeper' && e.kind === 'post').map((e) => e.text), ['kept', 'back on m3'], "the owner's posts, from m1 and from the rebuilt m3");
});
