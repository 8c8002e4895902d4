/**
 * The event index: per-origin seq order, duplicates, gaps, rooms, the follow graph,
 * and its snapshot for checkpoints. (Reading events back, by cursor or by room,
 * goes through the files: test/integration/journal-pages.test.ts, room-tails.test.ts.)
 */
import t from 'tap';
import { createEventId, type ChatEvent } from '../../lib/core/event';
import { EventIndex } from '../../lib/core/event-index';
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
  t.equal(index.heldBack(), 2);
  t.equal(index.seqOf('A'), 0, 'nothing applied yet');
  t.same(ids(index.offer(a1)), ids([a1, a2, a3]), 'seq 1 unblocks 2 and 3, applied in seq order');
  t.equal(index.heldBack(), 0);
  t.same(ids(index.offer(a4)), [a4.id], 'the next seq applies at once');
  t.same([...index.vector()], [['A', 4]]);
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
    t.equal(index.heldBack(), 0);
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
  t.equal(index.heldBack(), 1, 'held once');
  t.same(ids(index.offer(ev({ origin: 'A', seq: 2 }))), ['post/alice/A-2', a3.id], 'each event applied once');
});

t.test('settle() applies past gaps and reports them', async (t) => {
  const index = new EventIndex();
  const a1 = ev({ origin: 'A', seq: 1 });
  const a3 = ev({ origin: 'A', seq: 3 });
  const a4 = ev({ origin: 'A', seq: 4 });
  const b5 = ev({ origin: 'B', seq: 5 });
  offerAll(index, [a4, a1, b5, a3]);
  t.equal(index.heldBack(), 3);
  const { applied, gaps } = index.settle();
  t.same(ids(applied), ids([a3, a4, b5]), 'held events applied in seq order');
  t.same(gaps, [
    { origin: 'A', from: 2, to: 2 },
    { origin: 'B', from: 1, to: 4 },
  ]);
  t.equal(index.heldBack(), 0);
  t.same([...index.vector()].sort(), [['A', 4], ['B', 5]]);
  t.same(index.offer(ev({ origin: 'A', seq: 2 })), [], 'a seq given up as lost is not applied later');
  t.same(index.settle(), { applied: [], gaps: [] }, 'nothing left to settle');
  const b6 = ev({ origin: 'B', seq: 6 });
  t.same(ids(index.offer(b6)), [b6.id], 'the origin continues after the gap');
});

t.test('userExists and roomNames come from create events', async (t) => {
  const index = new EventIndex();
  t.notOk(index.userExists('ann'));
  offerAll(index, [
    ev({ origin: 'A', seq: 1, kind: 'create', id: createEventId('zed'), room: 'zed', author: 'zed', text: '' }),
    ev({ origin: 'A', seq: 2, kind: 'create', id: createEventId('ann'), room: 'ann', author: 'ann', text: '' }),
    ev({ origin: 'A', seq: 3, kind: 'post', room: 'bob', author: 'bob' }),
    ev({ origin: 'B', seq: 1, kind: 'create', id: createEventId('ann'), room: 'ann', author: 'ann', text: '' }),
  ]);
  t.ok(index.userExists('ann'));
  t.ok(index.userExists('zed'));
  t.notOk(index.userExists('bob'), 'a post does not create a user');
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
  const restored = EventIndex.fromSnapshot(index.snapshot());
  t.same([...restored.vector()].sort(), [...index.vector()].sort(), 'the same vector');
  t.same([...restored.rooms.names('')], ['ann']);
  t.same(restored.graph.following('ann'), ['ann', 'bob']);
  t.equal(restored.heldBack(), 1, 'the held event is held again');
  const a3 = ev({ origin: 'A', seq: 3, kind: 'leave', room: 'bob', author: 'ann', text: '' });
  t.same(ids(restored.offer(a3)), [a3.id, events[events.length - 1].id], 'the gap fills after the restore');
  t.same(restored.graph.following('ann'), ['ann', 'cat']);
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
  for (const e of shuffledEvents) if (e !== missing) index.absorb(e);
  t.notOk(index.absorb(shuffledEvents[0] === missing ? shuffledEvents[1] : shuffledEvents[0]), 'an event already had is not taken twice');
  t.same(index.endBulk(false), [{ origin: 'm1.w1', from: 7, to: 7 }], 'a gap is reported, not settled');
  t.equal(index.seqOf('m1.w1'), 6, 'its origin stops before the gap');
  t.equal(index.seqOf('m1.w0'), 20, 'the others are dense');
  index.absorb(missing);
  t.same(index.endBulk(true), [], 'a second pass fills it');
  t.same([...index.vector()].sort(), [...whole.vector()].sort(), 'the same vector as in-order offers');
  const lost = new EventIndex();
  lost.beginBulk();
  for (const e of events) if (e !== missing) lost.absorb(e);
  t.same(lost.endBulk(true), [{ origin: 'm1.w1', from: 7, to: 7 }], 'settling reports the gap');
  t.equal(lost.seqOf('m1.w1'), 20, 'and moves past it');
  t.same(ids(lost.offer(ev({ origin: 'm1.w1', seq: 21 }))), ['post/alice/m1.w1-21'], 'after the bulk, offers apply as usual');
});
