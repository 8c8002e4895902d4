/**
 * The event index: per-origin seq order, duplicates, copies of one post under
 * two slots, gaps, version-vector cursors and the timeline queries.
 */
import t from 'tap';
import { compareEvents, createEventId, type ChatEvent } from '../../lib/core/event';
import { EventIndex } from '../../lib/core/event-index';
import { advance, type VersionVector } from '../../lib/core/version-vector';
import { ev, rng, shuffled } from '../helpers/events';

const all = (): boolean => true;
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

function cursorOf(events: ChatEvent[]): VersionVector {
  const v: VersionVector = new Map();
  for (const e of events) advance(v, e.origin, e.seq);
  return v;
}

t.test('events of one origin arriving out of seq order are held back and applied in order', async (t) => {
  const index = new EventIndex();
  const [a1, a2, a3, a4] = [1, 2, 3, 4].map((seq) => ev({ origin: 'A', seq }));
  t.same(index.offer(a3), [], 'seq 3 before seq 1: held');
  t.same(index.offer(a2), [], 'seq 2 before seq 1: held');
  t.equal(index.heldBack(), 2);
  t.equal(index.seqOf('A'), 0, 'nothing applied yet');
  t.ok(index.has(a3.id), 'a held event counts as known');
  t.same(index.after(new Map(), all), [], 'held events are not visible');
  t.same(ids(index.offer(a1)), ids([a1, a2, a3]), 'seq 1 unblocks 2 and 3, applied in seq order');
  t.equal(index.heldBack(), 0);
  t.same(ids(index.offer(a4)), [a4.id], 'the next seq applies at once');
  t.same([...index.vector()], [['A', 4]]);
  t.same(ids(index.after(new Map(), all)), ids([a1, a2, a3, a4]));
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
  t.same(ids(index.offer(ev({ origin: 'A', seq: 2 }))), ['post/alice/A-2', a3.id]);
  t.same(ids(index.after(new Map(), all)), ['post/alice/A-1', 'post/alice/A-2', a3.id], 'each event once');
  t.equal(index.get(a1.id)?.text, a1.text, 'the first copy stays');
});

t.test('the same id under another slot is consumed but hidden', async (t) => {
  const index = new EventIndex();
  const original = ev({ origin: 'm1.w0', seq: 1, id: 'post/alice/retry-1', hlc: { wall: 50, logical: 0 } });
  const copy = { ...original, origin: 'm2.w0', seq: 1, hlc: { wall: 60, logical: 0 } };
  t.equal(index.offer(original).length, 1);
  t.same(index.offer(copy), [], 'the copy is not applied visibly');
  t.equal(index.seqOf('m2.w0'), 1, 'but its slot is consumed, so the origin stays gap-free');
  const next = ev({ origin: 'm2.w0', seq: 2 });
  t.same(ids(index.offer(next)), [next.id], 'the copy’s origin continues with seq 2');
  t.same(ids(index.after(new Map(), all)), [original.id, next.id], 'the post is visible once');
  t.same(ids(index.lastPosts(['alice'], 20)), [original.id, next.id], 'and in the timeline once');
  t.equal(index.get(original.id), original);
});

t.test('a post stored under several slots shows the same copy whatever the arrival order', async (t) => {
  // A retried post stored on several machines: each machine may see any copy first,
  // or hold one back behind a gap, yet every machine must show the same timeline.
  const id = 'post/alice/retry-1';
  const events = [
    ev({ origin: 'm1.w0', seq: 1, id, hlc: { wall: 50, logical: 0 } }),
    ev({ origin: 'm2.w0', seq: 1, id: 'post/alice/before-copy', hlc: { wall: 40, logical: 0 } }),
    ev({ origin: 'm2.w0', seq: 2, id, hlc: { wall: 70, logical: 0 } }), // held until m2.w0 seq 1
    ev({ origin: 'm3.w0', seq: 1, id, hlc: { wall: 80, logical: 0 } }),
    ev({ origin: 'm3.w0', seq: 2, id: 'post/alice/between', hlc: { wall: 60, logical: 0 } }),
  ];
  const timeline = (i: EventIndex): string[] => i.lastPosts(['alice'], 20).map((e) => `${e.id}@${e.hlc.wall}`);
  const expected = ['post/alice/before-copy@40', `${id}@50`, 'post/alice/between@60'];
  let orders = 0;
  const permute = (done: ChatEvent[], rest: ChatEvent[]): void => {
    if (rest.length === 0) {
      const index = new EventIndex();
      offerAll(index, done);
      orders++;
      const got = timeline(index);
      if (got.join() !== expected.join()) t.same(got, expected, `arrival order ${done.map((e) => `${e.origin}#${e.seq}`).join(', ')}`);
      if (ids(index.after(new Map(), all)).filter((x) => x === id).length !== 1) t.fail('the post streams once');
      return;
    }
    rest.forEach((e, i) => permute([...done, e], [...rest.slice(0, i), ...rest.slice(i + 1)]));
  };
  permute([], events);
  t.equal(orders, 120);
  t.pass('every arrival order shows the copy first in key order, once, in the same timeline');
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

t.test('after(cursor) returns exactly the events past the cursor, in apply order', async (t) => {
  const events = history();
  const index = new EventIndex();
  const order = offerAll(index, shuffled(events, rng(3)));
  for (let cut = 0; cut <= order.length; cut += 7) {
    const cursor = cursorOf(order.slice(0, cut));
    t.same(ids(index.after(cursor, all)), ids(order.slice(cut)), `cursor after ${cut} events`);
  }
  t.same(index.after(index.vector(), all), [], 'nothing past the whole vector');
  const inBob = (e: ChatEvent): boolean => e.room === 'bob';
  t.same(ids(index.after(new Map(), inBob)), ids(order.filter(inBob)), 'keep filters without reordering');
});

t.test('paging with max resumes without gap or duplicate', async (t) => {
  const events = history();
  const index = new EventIndex();
  const order = offerAll(index, shuffled(events, rng(11)));
  for (const max of [1, 4, 13]) {
    const cursor: VersionVector = new Map();
    const seen: ChatEvent[] = [];
    for (let page = index.after(cursor, all, max); page.length > 0; page = index.after(cursor, all, max)) {
      t.ok(page.length <= max);
      for (const e of page) advance(cursor, e.origin, e.seq);
      seen.push(...page);
    }
    t.same(ids(seen), ids(order), `pages of ${max} add up to every event once, in order`);
  }
});

t.test('a cursor from one machine resumes on another that applied in a different order', async (t) => {
  const events = history();
  const here = new EventIndex();
  const there = new EventIndex();
  const hereOrder = offerAll(here, shuffled(events, rng(5)));
  offerAll(there, shuffled(events, rng(6)));
  for (const cut of [0, 10, 31, 59, 60]) {
    const had = hereOrder.slice(0, cut);
    const rest = there.after(cursorOf(had), all);
    t.same([...ids(had), ...ids(rest)].sort(), ids(events).sort(), `cut ${cut}: no gap, no duplicate`);
  }
});

t.test('lastPosts gives the last N posts of the given rooms, oldest first', async (t) => {
  const index = new EventIndex();
  const events = history();
  offerAll(index, shuffled(events, rng(9)));
  offerAll(index, [ev({ origin: 'm3.w0', seq: 1, kind: 'join', room: 'ann', author: 'bob', hlc: { wall: 99_999, logical: 0 } })]);
  const wanted = events.filter((e) => e.room === 'ann' || e.room === 'cat').sort(compareEvents);
  t.same(ids(index.lastPosts(['ann', 'cat'], 5)), ids(wanted.slice(-5)), 'last 5, oldest first, joins excluded');
  t.same(ids(index.lastPosts(['cat', 'ann'], 500)), ids(wanted), 'all of them when fewer than N');
  t.same(index.lastPosts(['nobody'], 5), [], 'a room without posts');
  t.same(index.lastPosts(['ann'], 0), [], 'N = 0');
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
  t.same(index.roomNames(), ['ann', 'zed'], 'sorted, each once');
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
