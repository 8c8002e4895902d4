/**
 * A faulty peer cannot store what a client could not: its events are checked as a
 * client's requests are. A bad one is refused with one log line and blocks only its
 * origin (what came before it is kept, nothing after it, so the origin has no gap);
 * the other origins of the same batch go on, and the replicator lives on.
 */
import tap from 'tap';
import { loadConfig } from '../../lib/common/config';
import { encode, type Field } from '../helpers/raw-grpc';
import { converged, dumpEvents, startCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { protoRoot } from '../fuzz/wire-arbitraries';
import { servePeerLog } from '../fuzz/fake-peer';
const t = tap;

/** An Event message: id, origin, seq, kind, room, author, text, hlc. */
function event(id: string, origin: string, seq: number, kind: string, room: string, author: string, text = ''): Buffer {
  const fields: Field[] = [[1, id], [2, origin], [3, seq], [4, kind], [5, room], [6, author], [8, [[1, Date.now()], [2, 0]]]];
  return encode(text ? [...fields, [7, text]] : fields);
}

t.test("a peer's post in another user's room is refused everywhere; its origin stops there, the others go on", async (t) => {
  // m3 is in the config but never started: its peer port is the faulty peer.
  const cluster = await startCluster({ machines: ['m1', 'm2', 'm3'], startMachines: false });
  t.teardown(() => cluster.teardown());
  const config = loadConfig(cluster.configFile);
  const peer = await servePeerLog(`127.0.0.1:${config.machines.m3.peerPort}`, config, 'm3', protoRoot(), [
    event('create/mallory', 'm3.bad.w0', 1, 'create', 'mallory', 'mallory'),
    event('post/mallory/forged', 'm3.bad.w0', 2, 'post', 'victim', 'mallory', 'posted in your room'),
    event('post/mallory/after', 'm3.bad.w0', 3, 'post', 'mallory', 'mallory', 'after the bad one'),
    event('create/honest', 'm3.good.w0', 1, 'create', 'honest', 'honest'),
    event('post/honest/hi', 'm3.good.w0', 2, 'post', 'honest', 'honest', 'hello'),
  ], true); // each stream ends, so the replicators pull again and again
  t.teardown(() => peer.close());
  await cluster.start('m1');
  await cluster.start('m2');
  const refusals = await waitFor('both replicators refuse the forged post', () => {
    const lines = cluster.logs.filter((l) => l.msg.startsWith('refused an event from peer'));
    return new Set(lines.map((l) => l.machine)).size === 2 && lines;
  });
  t.match(refusals[0], { reason: "a post's room must be its author's", origin: 'm3.bad.w0', seq: 2, id: 'post/mallory/forged' }, 'one line with the reason');
  const dump = await waitFor('the valid events stored', async () => {
    const d = await converged(cluster, ['m1', 'm2']);
    return d.includes('post/honest/hi') && d;
  });
  t.same(
    dumpEvents(dump).map((e) => e.id).sort(),
    ['create/honest', 'create/mallory', 'post/honest/hi'],
    'the origin keeps what came before the bad event, loses it and what follows; the other origin is whole',
  );
  await waitFor('the replicators to pull it again', () => peer.stats.pulls >= 6);
  t.equal(cluster.logs.filter((l) => l.msg.startsWith('refused an event from peer') && l.machine === 'm1').length, 1, `said once, not at each of ${peer.stats.pulls} pulls`);
  const replicators = (await cluster.status()).processes.filter((p) => p.role === 'replicator');
  t.same(replicators.map((p) => `${p.machine} ${p.state}, ${p.restarts} restarts`).sort(), ['m1 up, 0 restarts', 'm2 up, 0 restarts'], 'no replicator restarted');
});
