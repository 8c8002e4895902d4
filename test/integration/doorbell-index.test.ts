/**
 * A doorbell with the committer's top seqs: the other processes of the machine
 * learn the new events from their index records instead of reading every room
 * file again. Real journals over one machine dir, as a replicator and workers are.
 */
import t from 'tap';
import { createEventId, postEventId, type ChatEvent } from '../../lib/core/event';
import type { EventIndex } from '../../lib/core/event-index';
import { ev } from '../helpers/events';
import type { Commit } from '../../lib/storage/journal';
import { newJournal, openJournal, readAll, tempDir } from '../helpers/storage';
import { waitFor } from '../helpers/wait';
import { join } from 'node:path';

/** A peer's history: users, each joining the next two, posting in turn; stamped by two origins. */
function peerEvents(users: number, posts: number): ChatEvent[] {
  const seqs = new Map<string, number>();
  let wall = 1_000;
  const at = (i: number, e: Omit<ChatEvent, 'origin' | 'seq' | 'hlc'>): ChatEvent => {
    const origin = `p${i % 2}`;
    const seq = (seqs.get(origin) ?? 0) + 1;
    seqs.set(origin, seq);
    return ev({ ...e, origin, seq, hlc: { wall: wall++, logical: 0 } });
  };
  const name = (i: number): string => `u${i % users}`;
  const out: ChatEvent[] = [];
  for (let i = 0; i < users; i++) out.push(at(i, { id: createEventId(name(i)), kind: 'create', room: name(i), author: name(i), text: '' }));
  for (let i = 0; i < users; i++) {
    for (const d of [1, 2]) out.push(at(i + d, { id: `join/${name(i)}/${name(i + d)}/j${i}.${d}`, kind: 'join', room: name(i + d), author: name(i), text: '' }));
  }
  for (let i = 0; i < posts; i++) out.push(at(i, { id: postEventId(name(i), `c${i}`), kind: 'post', room: name(i), author: name(i), text: `post ${i}` }));
  return out;
}

const upToOf = (events: ChatEvent[]): Record<string, number> => {
  const upTo: Record<string, number> = {};
  for (const e of events) upTo[e.origin] = Math.max(upTo[e.origin] ?? 0, e.seq);
  return upTo;
};

t.test('a worker rung with top seqs learns a replicated batch from the index: same vector, graph and tails, posts read only where wanted', async (t) => {
  const machineDir = join(tempDir(t), 'm3');
  const { journal: replicator } = await openJournal(machineDir, 'm3.replicator');
  const { journal: worker } = await openJournal(machineDir, 'm3.w0');
  const shown: ChatEvent[] = [];
  worker.listeners.onApplied((e) => shown.push(e), (room) => room === 'u1');
  worker.reads.lastPosts(['u2'], 10); // u2's tail is cached: its posts go in
  const rung: Commit[] = [];
  replicator.listeners.onCommitted((c) => rung.push(c));

  const events = peerEvents(6, 60);
  for (let i = 0; i < events.length; i += 25) {
    const r = await replicator.appendStamped(events.slice(i, i + 25));
    t.equal(r.appended, Math.min(25, events.length - i));
  }
  t.same(rung.map((r) => r.upTo).reduce((a, b) => ({ ...a, ...b }), {}), upToOf(events), 'each doorbell names the top seqs its commit wrote');
  t.ok(rung.every((r) => r.record !== undefined), 'and where its write-ahead log record lies');
  for (const r of rung) worker.ring(r);
  await waitUntilVector(worker, replicator);

  t.same(worker.index.seqs.vector(), replicator.index.seqs.vector(), 'same vector');
  t.ok(worker.index.graph.isFollowing('u1', 'u3') && worker.index.graph.isFollowing('u2', 'u3') && !worker.index.graph.isFollowing('u0', 'u3'), 'joins learned: the follow graph');
  t.ok(worker.index.rooms.has('u5'), 'creations learned: the directory');
  const posts = events.filter((e) => e.kind === 'post');
  const ids = (list: ChatEvent[]): string[] => list.map((e) => e.id).sort();
  t.same(ids(shown.filter((e) => e.kind === 'post')), ids(posts.filter((e) => e.room === 'u1' || e.room === 'u2')), 'the posts of the wanted and the cached room were read and shown; no other post was read');
  t.same(worker.reads.lastPosts(['u2'], 100).map((e) => e.id), posts.filter((e) => e.room === 'u2').map((e) => e.id), 'a cached tail took its posts');
  t.same(worker.reads.lastPosts(['u4'], 100).map((e) => e.id), posts.filter((e) => e.room === 'u4').map((e) => e.id), 'an uncached tail reads them from the file (read offsets moved over the learned lines)');
  t.same(readAll(worker).map((e) => e.id).sort(), events.map((e) => e.id).sort(), 'every event readable through the worker');

  // The worker's own commit after it: its catch-up under the lock finds nothing unread, and it stamps after everything.
  const mine = await worker.submit({ id: postEventId('u4', 'after'), kind: 'post', room: 'u4', author: 'u4', text: 'after' });
  t.ok(mine.hlc.wall > events[events.length - 1].hlc.wall, 'the clock moved past the learned events');
  t.equal(worker.reads.lastPosts(['u4'], 100).length, posts.filter((e) => e.room === 'u4').length + 1, 'no learned post read twice');
});

t.test('a doorbell rung before the load waits for it: nothing is learned into the empty state, and everything rung is there after the load', async (t) => {
  const machineDir = join(tempDir(t), 'm3');
  const { journal: replicator } = await openJournal(machineDir, 'm3.replicator');
  const rung: Commit[] = [];
  replicator.listeners.onCommitted((c) => rung.push(c));
  const events = peerEvents(6, 60);
  const [before, after] = [events.slice(0, 50), events.slice(50)];
  for (let i = 0; i < before.length; i += 25) await replicator.appendStamped(before.slice(i, i + 25));

  // A revived worker listens before it loads; the doorbells of the writers still serving reach it meanwhile.
  const { journal: worker } = newJournal(machineDir, 'm3.w0');
  for (const r of rung) worker.ring(r);
  t.equal(worker.index.seqs.vector().size, 0, 'no event learned from seq 1 into the state the load replaces');
  await worker.load();
  const early = rung.length;
  await replicator.appendStamped(after);
  for (const r of rung.slice(early)) worker.ring(r);
  await waitUntilVector(worker, replicator);
  t.same(worker.index.seqs.vector(), replicator.index.seqs.vector(), 'same vector after the load and the later doorbells');
  t.same(readAll(worker).map((e) => e.id).sort(), events.map((e) => e.id).sort(), 'every event readable through the worker, none doubled');
});

t.test('lines of another writer between the learned ones: that room is read from its file, nothing lost or doubled', async (t) => {
  const machineDir = join(tempDir(t), 'm3');
  const { journal: replicator } = await openJournal(machineDir, 'm3.replicator');
  const { journal: other } = await openJournal(machineDir, 'm3.w1');
  const { journal: worker } = await openJournal(machineDir, 'm3.w0');
  const rung: Commit[] = [];
  replicator.listeners.onCommitted((c) => rung.push(c));
  const events = peerEvents(3, 12);
  await replicator.appendStamped(events.slice(0, 15));
  await other.refresh(['u0', 'u1', 'u2']);
  await other.submit({ id: postEventId('u0', 'local'), kind: 'post', room: 'u0', author: 'u0', text: 'local' }); // between
  await replicator.appendStamped(events.slice(15));
  // The local writer's doorbell is lost: only the replicator's ring.
  for (const r of rung) worker.ring(r);
  await waitUntilVector(worker, replicator);
  await worker.refresh(['u0']);
  const u0 = [...events.filter((e) => e.kind === 'post' && e.room === 'u0').map((e) => e.id), postEventId('u0', 'local')];
  t.same(worker.reads.lastPosts(['u0'], 100).map((e) => e.id).sort(), u0.sort(), 'u0 holds every post once, the local one included');
  t.same(readAll(worker).length, events.length + 1);
});

t.test("read-your-writes: a user another writer just created is known to a refresh of their room alone, before that writer's doorbells arrive", async (t) => {
  const machineDir = join(tempDir(t), 'm1');
  const { journal: w0 } = await openJournal(machineDir, 'm1.w0');
  const { journal: w1 } = await openJournal(machineDir, 'm1.w1');
  // Created one after another, as parallel Connects are: bob's create follows alice's, in another room, of the same origin.
  for (const u of ['alice', 'bob']) await w0.submit({ id: createEventId(u), kind: 'create', room: u, author: u, text: '' });
  // None of w0's doorbells reached w1: bob's next call on w1 refreshes bob's room only.
  await w1.refresh(['bob']);
  t.ok(w1.index.rooms.has('bob'), "bob's create is applied, not held behind alice's");
  t.ok(w1.index.rooms.has('alice'), "alice's, the origin's earlier event, was learned from its index record");
  t.same(w1.index.seqs.vector(), w0.index.seqs.vector(), 'the two writers agree');
});

t.test('a doorbell whose log record is gone (its segment retired) reads the lines one by one', async (t) => {
  const machineDir = join(tempDir(t), 'm3');
  const { journal: replicator } = await openJournal(machineDir, 'm3.replicator');
  const { journal: worker } = await openJournal(machineDir, 'm3.w0');
  const shown: ChatEvent[] = [];
  worker.listeners.onApplied((e) => shown.push(e), () => true);
  const rung: Commit[] = [];
  replicator.listeners.onCommitted((c) => rung.push(c));
  const events = peerEvents(3, 9);
  await replicator.appendStamped(events);
  worker.ring({ ...rung[0], record: { segment: 999, offset: 0 } });
  await waitUntilVector(worker, replicator);
  t.same(shown.map((e) => e.id).sort(), events.map((e) => e.id).sort(), 'every event read and shown');
});

t.test('a doorbell whose seqs have no index records falls back to reading its rooms', async (t) => {
  const machineDir = join(tempDir(t), 'm3');
  const { journal: replicator } = await openJournal(machineDir, 'm3.replicator');
  const { journal: worker } = await openJournal(machineDir, 'm3.w0');
  const events = peerEvents(3, 9);
  await replicator.appendStamped(events);
  worker.ring({ rooms: ['u0', 'u1', 'u2'], upTo: { ...upToOf(events), p0: upToOf(events).p0 + 5 } }); // seqs past what was written
  await waitUntilVector(worker, replicator);
  t.same(worker.index.seqs.vector(), replicator.index.seqs.vector(), 'the rooms were read instead');
});

async function waitUntilVector(worker: { index: EventIndex }, writer: { index: EventIndex }): Promise<void> {
  await waitFor('the worker to learn every event', () => JSON.stringify([...worker.index.seqs.vector()].sort()) === JSON.stringify([...writer.index.seqs.vector()].sort()), 10_000, 5);
}
