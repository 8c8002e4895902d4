/**
 * The event index: per-origin seq order, duplicates, gaps, rooms, the follow graph,
 * and its snapshot for checkpoints. (Reading events back, by cursor or by room,
 * goes through the files: test/integration/journal-pages.test.ts, room-tails.test.ts.)
 */
import t from 'tap';
import { createEventId, type ChatEvent } from '../../lib/core/event';
import { EventIndex, lineBytes } from '../../lib/core/event-index';
import { indexFromSnapshot, snapshotIndex } from '../../lib/core/index-snapshot';
import { fingerprint } from '../../lib/core/identity';
import { ev, rng, shuffled } from '../helpers/events';

const ids = (events: ChatEvent[]): string[] => events.map((e) => e.id);

/** Offers every event; returns what became applied, in apply order. */
function offerAll(index: EventIndex, events: ChatEvent[]): ChatEvent[] {
  return events.flatMap((e) => index.offer(e));
}

/** Three origins' posts into a few rooms, each origin dense from seq 1, clocks interleaved. */
function history(perOrigin = 20): ChatEvent[] {
  const out: ChatEvent[] = [];
  const origins = ['m1.w0', 'm1.w1', 'm2.w0'];
  const rooms = ['ann', 'bob', 'cat'];
  origins.forEach((origin, o) => {
    for (let seq = 1; seq <= perOrigin; seq++) {
      const room = rooms[(seq + o) % rooms.length];
      out.push(ev({ origin, seq, room, author: room, hlc: { wall: 1000 + seq * 3 + o, logical: 0 } }));
    }
  });
  return out;
}


t.test('events of one origin arriving out of seq order are held back and applied in order', async (t) => {
  const index = new EventIndex();
  const [a1, a2, a3, a4] = [1, 2, 3, 4].map((seq) => ev({ origin: 'A', seq }));
  t.same(index.offer(a3), [], 'seq 3 before seq 1: held');
  t.same(index.offer(a2), [], 'seq 2 before seq 1: held');
  t.equal(index.seqs.heldBack(), 2);
  t.equal(index.seqs.seqOf('A'), 0, 'nothing applied yet');
  t.same(ids(index.offer(a1)), ids([a1, a2, a3]), 'seq 1 unblocks 2 and 3, applied in seq order');
  t.equal(index.seqs.heldBack(), 0);
  t.same(ids(index.offer(a4)), [a4.id], 'the next seq applies at once');
  t.same([...index.seqs.vector()], [['A', 4]]);
});

t.test('a random arrival order still applies each origin in seq order', async (t) => {
  const events = history();
  const random = rng(7);
  for (let round = 0; round < 20; round++) {
    const index = new EventIndex();
    const applied = offerAll(index, shuffled(events, random));
    t.equal(applied.length, events.length, `round ${round}: everything applied`);
    const last = new Map<string, number>();
    const inOrder = applied.every((e) => {
      const ok = e.seq === (last.get(e.origin) ?? 0) + 1;
      last.set(e.origin, e.seq);
      return ok;
    });
    t.ok(inOrder, `round ${round}: each origin applied 1, 2, 3, ...`);
    t.equal(index.seqs.heldBack(), 0);
  }
});

t.test('duplicates (same origin and seq) are ignored, applied or held', async (t) => {
  const index = new EventIndex();
  const a1 = ev({ origin: 'A', seq: 1 });
  const a3 = ev({ origin: 'A', seq: 3 });
  t.equal(index.offer(a1).length, 1);
  t.same(index.offer(a1), [], 'the same event again');
  t.same(index.offer({ ...a1, text: 'a different copy' }), [], 'another object for the same slot');
  t.same(index.offer(a3), []);
  t.same(index.offer({ ...a3 }), [], 'a duplicate of a held event');
  t.equal(index.seqs.heldBack(), 1, 'held once');
  t.same(ids(index.offer(ev({ origin: 'A', seq: 2 }))), ['post/alice/A-2', a3.id], 'each event applied once');
});

t.test('a hole a load leaves open: held below it, filled by the missing event, never stamped over', async (t) => {
  const index = new EventIndex();
  index.beginBulk();
  // A's seq 3 and 6 lost (corrupt lines); B whole.
  for (const seq of [1, 2, 4, 5, 7]) index.takeInBulk(ev({ origin: 'A', seq }), 100);
  for (const seq of [1, 2]) index.takeInBulk(ev({ origin: 'B', seq }), 100);
  t.same(index.endBulk(), [{ origin: 'A', from: 3, to: 3 }, { origin: 'A', from: 6, to: 6 }]);
  index.endBulk(true);
  t.equal(index.seqs.seqOf('A'), 2, 'the vector stops below the hole: a pull asks for it again');
  t.equal(index.seqs.seqOf('B'), 2);
  t.same(index.seqs.holes(), [{ origin: 'A', from: 3, to: 3 }, { origin: 'A', from: 6, to: 6 }], 'which seqs are missing');
  t.ok(index.seqs.has('A', 4) && index.seqs.has('A', 7) && !index.seqs.has('A', 3), 'what is stored past it is known');
  t.equal(index.seqs.topSeq('A'), 7, 'a writer of A stamps after everything stored');
  t.ok(index.seqs.hasStoredPastHoles());
  t.same(index.offer(ev({ origin: 'A', seq: 4 })), [], 'a stored event offered again is not applied twice');
  const a3 = ev({ origin: 'A', seq: 3 });
  t.same(ids(index.offer(a3)), [a3.id], 'the fetched event applies');
  t.equal(index.seqs.seqOf('A'), 5, 'and the vector moves over what was stored past it');
  t.same(index.seqs.holes(), [{ origin: 'A', from: 6, to: 6 }]);
  index.offer(ev({ origin: 'A', seq: 6 }));
  t.equal(index.seqs.seqOf('A'), 7);
  t.same(index.seqs.holes(), []);
  t.notOk(index.seqs.hasStoredPastHoles());
  t.equal(index.seqs.heldBack(), 0);
});

t.test('holes() also names what replication holds back', async (t) => {
  const index = new EventIndex();
  offerAll(index, [ev({ origin: 'A', seq: 1 }), ev({ origin: 'A', seq: 4 }), ev({ origin: 'B', seq: 2 })]);
  t.same(index.seqs.holes(), [{ origin: 'A', from: 2, to: 3 }, { origin: 'B', from: 1, to: 1 }]);
});

t.test('the rooms and their names come from create events', async (t) => {
  const index = new EventIndex();
  t.notOk(index.rooms.has('ann'));
  offerAll(index, [
    ev({ origin: 'A', seq: 1, kind: 'create', id: createEventId('zed'), room: 'zed', author: 'zed', text: '' }),
    ev({ origin: 'A', seq: 2, kind: 'create', id: createEventId('ann'), room: 'ann', author: 'ann', text: '' }),
    ev({ origin: 'A', seq: 3, kind: 'post', room: 'bob', author: 'bob' }),
    ev({ origin: 'B', seq: 1, kind: 'create', id: createEventId('ann'), room: 'ann', author: 'ann', text: '' }),
  ]);
  t.ok(index.rooms.has('ann'));
  t.ok(index.rooms.has('zed'));
  t.notOk(index.rooms.has('bob'), 'a post does not create a user');
  t.same([...index.rooms.names('')], ['ann', 'zed'], 'sorted, each once');
});

t.test('join and leave events feed the follow graph', async (t) => {
  const index = new EventIndex();
  offerAll(index, [
    ev({ origin: 'A', seq: 1, kind: 'join', room: 'bob', author: 'ann', text: '' }),
    ev({ origin: 'A', seq: 2, kind: 'join', room: 'cat', author: 'ann', text: '' }),
    ev({ origin: 'A', seq: 3, kind: 'leave', room: 'cat', author: 'ann', text: '' }),
  ]);
  t.same(index.graph.following('ann'), ['ann', 'bob']);
});

t.test('a snapshot restores vector, rooms, graph and held-back events', async (t) => {
  const events = [
    ...history(),
    ev({ origin: 'A', seq: 1, kind: 'create', id: createEventId('ann'), room: 'ann', author: 'ann', text: '' }),
    ev({ origin: 'A', seq: 2, kind: 'join', room: 'bob', author: 'ann', text: '' }),
    ev({ origin: 'A', seq: 4, kind: 'join', room: 'cat', author: 'ann', text: '' }), // held: seq 3 missing
  ];
  const index = new EventIndex();
  offerAll(index, events);
  const restored = indexFromSnapshot(snapshotIndex(index));
  t.same([...restored.seqs.vector()].sort(), [...index.seqs.vector()].sort(), 'the same vector');
  t.same([...restored.rooms.names('')], ['ann']);
  t.same(restored.graph.following('ann'), ['ann', 'bob']);
  t.equal(restored.seqs.heldBack(), 1, 'the held event is held again');
  const a3 = ev({ origin: 'A', seq: 3, kind: 'leave', room: 'bob', author: 'ann', text: '' });
  t.same(ids(restored.offer(a3)), [a3.id, events[events.length - 1].id], 'the gap fills after the restore');
  t.same(restored.graph.following('ann'), ['ann', 'cat']);
});

t.test('a load restores the index in place: whoever holds it sees the snapshot, and nothing of what it held before', async (t) => {
  const source = new EventIndex();
  offerAll(source, [ev({ origin: 'A', seq: 1, kind: 'create', id: createEventId('ann'), room: 'ann', author: 'ann', text: '' }), ev({ origin: 'A', seq: 3, room: 'ann', author: 'ann' })]);
  const held = new EventIndex(); // e.g. captured by a chat handler before the load
  offerAll(held, [ev({ origin: 'B', seq: 1, kind: 'create', id: createEventId('zed'), room: 'zed', author: 'zed', text: '' })]);
  held.restore(indexFromSnapshot(snapshotIndex(source)));
  t.same([...held.seqs.vector()], [['A', 1]], "the snapshot's vector, none of the old one");
  t.same([...held.rooms.names('')], ['ann'], "the snapshot's rooms");
  t.equal(held.seqs.heldBack(), 1, 'its held-back event');
  held.restore(new EventIndex());
  t.same([...held.seqs.vector()], [], 'restored from nothing: empty');
  t.equal(held.seqs.heldBack(), 0);
});

t.test('a bulk load takes events in any order, and moves the vector over what is dense', async (t) => {
  const events = history();
  const random = rng(13);
  const whole = new EventIndex();
  offerAll(whole, events);
  const index = new EventIndex();
  index.beginBulk();
  const shuffledEvents = shuffled(events, random);
  const missing = shuffledEvents.find((e) => e.origin === 'm1.w1' && e.seq === 7) as ChatEvent;
  for (const e of shuffledEvents) if (e !== missing) index.takeInBulk(e, lineBytes(e));
  t.notOk(index.takeInBulk(shuffledEvents[0] === missing ? shuffledEvents[1] : shuffledEvents[0], 100), 'an event already had is not taken twice');
  t.same(index.endBulk(), [{ origin: 'm1.w1', from: 7, to: 7 }], 'a gap is reported');
  t.equal(index.seqs.seqOf('m1.w1'), 6, 'its origin stops before the gap');
  t.equal(index.seqs.seqOf('m1.w0'), 20, 'the others are dense');
  index.takeInBulk(missing, lineBytes(missing));
  t.same(index.endBulk(), [], 'a second pass fills it');
  t.same([...index.seqs.vector()].sort(), [...whole.seqs.vector()].sort(), 'the same vector as in-order offers');
  t.same(ids(index.offer(ev({ origin: 'm1.w1', seq: 21 }))), ['post/alice/m1.w1-21'], 'after the bulk, offers apply as usual');
});

t.test('a post known only by its index record moves the vector when it is next, and releases what waited for it', async (t) => {
  const idx = new EventIndex();
  idx.offer(ev({ origin: 'a', seq: 1 }));
  t.equal(idx.offerUnreadPost('a', 3, 'alice', 100), null, 'not the next seq: refused');
  const third = ev({ origin: 'a', seq: 3 });
  t.same(idx.offer(third), [], 'an early arrival is held back');
  t.same(idx.offerUnreadPost('a', 2, 'alice', 100), [third], 'seq 2, unread, applies and releases seq 3');
  t.equal(idx.seqs.seqOf('a'), 3);
  t.equal(idx.offerUnreadPost('a', 3, 'alice', 100), null, 'an applied seq is refused');
  t.same(idx.offerUnreadPost('b', 1, 'alice', 100), [], 'a new origin starts at 1');
});

t.test("a user's stored bytes count each of its lines once, however it was learned, and survive a checkpoint", async (t) => {
  const post = (seq: number, author = 'alice'): ChatEvent => ev({ origin: 'A', seq, author, text: 'x'.repeat(seq * 10) });
  const lines = [1, 2, 3, 4].map((seq) => post(seq));
  const total = lines.reduce((n, e) => n + lineBytes(e), 0);
  const index = new EventIndex();
  index.offer(lines[0]);
  index.offer(lines[2], lineBytes(lines[2])); // early: held back, counted once it applies
  t.equal(index.authored.get('alice'), lineBytes(lines[0]), 'a held-back line is not counted yet');
  index.offer(lines[2], lineBytes(lines[2]));
  index.offerUnreadPost('A', 2, 'alice', lineBytes(lines[1])); // a post learned by its index record alone
  index.offer(lines[1]);
  index.offer(lines[3]);
  t.equal(index.authored.get('alice'), total, 'each line once, whichever way it came');
  index.offer(ev({ origin: 'B', seq: 1, kind: 'join', author: 'bob', room: 'alice' }));
  t.equal(index.authored.get('alice'), total, "another user's join of her room is bob's, not hers");
  t.ok(index.authored.get('bob') > 0, "it is bob's");
  t.equal(indexFromSnapshot(snapshotIndex(index)).authored.get('alice'), total, 'a checkpoint keeps the counts');
});

t.test("only events made with their user's key count, whatever order they arrive in; events from before keys always count", async (t) => {
  const key = (n: number): string => `ed25519:${Buffer.alloc(32, n).toString('base64')}`;
  const fp = (n: number): string => fingerprint(Buffer.alloc(32, n));
  const created = (origin: string, seq: number, room: string, n: number, wall: number): ChatEvent =>
    ev({ origin, seq, kind: 'create', id: createEventId(room), room, author: room, text: key(n), key: fp(n), hlc: { wall, logical: 0 } });
  const events = [
    created('A', 1, 'ann', 1, 10),
    created('A', 2, 'bob', 2, 11),
    ev({ origin: 'B', seq: 1, kind: 'join', id: 'join/ann/bob/1', author: 'ann', room: 'bob', text: '', key: fp(1), hlc: { wall: 20, logical: 0 } }),
    ev({ origin: 'B', seq: 2, kind: 'join', id: 'join/cat/bob/1', author: 'cat', room: 'bob', text: '', key: fp(9), hlc: { wall: 21, logical: 0 } }),
    ev({ origin: 'B', seq: 3, kind: 'post', id: 'post/bob/good', author: 'bob', room: 'bob', text: 'by my key', key: fp(2), hlc: { wall: 22, logical: 0 } }),
    ev({ origin: 'B', seq: 4, kind: 'post', id: 'post/bob/bad', author: 'bob', room: 'bob', text: 'by a stranger', key: fp(9), hlc: { wall: 23, logical: 0 } }),
    ev({ origin: 'B', seq: 5, kind: 'post', id: 'post/bob/old', author: 'bob', room: 'bob', text: 'before keys', hlc: { wall: 24, logical: 0 } }),
    created('C', 1, 'cat', 3, 12),
  ];
  for (const order of [events, [...events].reverse(), shuffled(events, rng(3))]) {
    const index = new EventIndex();
    const shown = ids(offerAll(index, order));
    t.same(shown.filter((id) => id.startsWith('post/')).sort(), ['post/bob/good', 'post/bob/old'], 'shown: the posts by the room key, and the one from before keys');
    t.same(index.graph.following('ann'), ['ann', 'bob'], "ann's join, by ann's key, applied (once ann's key is known)");
    t.same(index.graph.following('cat'), ['cat'], "cat's join, by another key, is not");
    const restored = indexFromSnapshot(snapshotIndex(index));
    t.equal(restored.keys.fingerprintOf('bob'), fp(2), 'the keys survive a checkpoint');
  }
  const waiting = new EventIndex();
  offerAll(waiting, events.slice(2, 3));
  const back = indexFromSnapshot(snapshotIndex(waiting));
  offerAll(back, events.slice(0, 1));
  t.same(back.graph.following('ann'), ['ann', 'bob'], 'a join waiting for its key survives a checkpoint');
});
