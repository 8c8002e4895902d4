/**
 * The ordering key every reader sorts by, and the validation every stored or
 * received event passes through.
 */
import t from 'tap';
import fc from 'fast-check';
import { asEvent, compareEvents, createEventId, eventToLine, postEventId, shownCopy, type ChatEvent } from '../../lib/core/event';
import { RoomTail } from '../../lib/core/room-tails';
import { ev, rng, shuffled } from '../helpers/events';

/** Events that collide on every prefix of the key, so each tie-break is needed. */
function collidingEvents(): ChatEvent[] {
  const out: ChatEvent[] = [];
  for (const wall of [5000, 5001])
    for (const logical of [0, 1, 2])
      for (const origin of ['m1.w0', 'm1.w1', 'm2.w0'])
        for (const id of ['post/a/1', 'post/a/2', 'post/b/1'])
          out.push(ev({ origin, seq: out.length + 1, id, hlc: { wall, logical } }));
  return out;
}

function keyOf(e: ChatEvent): string {
  return `${e.hlc.wall}.${e.hlc.logical}/${e.origin}/${e.id}`;
}

t.test('compareEvents orders by hlc, then origin, then id', async (t) => {
  const base = ev({ origin: 'm2', seq: 1, id: 'b', hlc: { wall: 10, logical: 5 } });
  t.ok(compareEvents(base, { ...base, hlc: { wall: 11, logical: 0 } }) < 0, 'a later wall sorts after, whatever the rest');
  t.ok(compareEvents(base, { ...base, hlc: { wall: 10, logical: 6 }, origin: 'm1', id: 'a' }) < 0, 'a higher logical sorts after');
  t.ok(compareEvents(base, { ...base, origin: 'm3', id: 'a' }) < 0, 'equal hlc: origin decides');
  t.ok(compareEvents(base, { ...base, origin: 'm1', id: 'z' }) > 0, 'equal hlc: a smaller origin sorts first');
  t.ok(compareEvents(base, { ...base, id: 'c' }) < 0, 'equal hlc and origin: id decides');
  t.ok(compareEvents(base, { ...base, id: 'a' }) > 0);
  t.equal(compareEvents(base, { ...base, seq: 99, text: 'other' }), 0, 'seq and content are not part of the key');
});

t.test('compareEvents is a total order: reflexive, antisymmetric, transitive', async (t) => {
  const all = collidingEvents();
  let bad = 0;
  for (const a of all) {
    if (compareEvents(a, a) !== 0) bad++;
    for (const b of all) {
      const ab = Math.sign(compareEvents(a, b));
      if (ab !== -Math.sign(compareEvents(b, a))) bad++;
      if (ab === 0 && keyOf(a) !== keyOf(b)) bad++; // ties only on identical keys
      for (const c of all) if (ab < 0 && compareEvents(b, c) < 0 && compareEvents(a, c) >= 0) bad++;
    }
  }
  t.equal(bad, 0, `${all.length} events with colliding keys compare consistently`);
});

t.test('sorting the same events in any arrival order gives the same sequence', async (t) => {
  const all = collidingEvents();
  const expected = [...all].sort(compareEvents).map(keyOf);
  t.equal(new Set(expected).size, all.length, 'every event has its own place');
  const random = rng(42);
  for (let round = 0; round < 50; round++) {
    const got = shuffled(all, random).sort(compareEvents).map(keyOf);
    if (got.join() !== expected.join()) {
      t.fail(`arrival order ${round} sorted differently`);
      return;
    }
  }
  t.same([...all].reverse().sort(compareEvents).map(keyOf), expected, 'reversed arrival too');
  t.pass('50 shuffled arrival orders sort identically');
});

t.test('eventToLine round-trips through asEvent(JSON.parse())', async (t) => {
  const samples = [
    ev({ origin: 'm1.w0', seq: 1, kind: 'create', id: createEventId('alice'), room: 'alice', author: 'alice', text: '' }),
    ev({ origin: 'm2.w1', seq: 7, kind: 'join', room: 'bob', author: 'alice', text: '' }),
    ev({ origin: 'm3.w0', seq: 2, kind: 'leave', room: 'bob', author: 'alice', text: '' }),
    ev({ origin: 'm1.w1', seq: 3, id: postEventId('alice', 'c-1'), text: 'héllo 🌍 "quoted" \\ back\nslash\u0000 \u2028' }),
  ];
  for (const e of samples) {
    const line = eventToLine(e);
    t.notOk(line.includes('\n'), `${e.kind}: the line has no raw newline`);
    t.same(asEvent(JSON.parse(line)), e, `${e.kind} round-trips`);
    t.equal(eventToLine(asEvent(JSON.parse(line)) as ChatEvent), line, `${e.kind}: the line is canonical`);
  }
  const reordered = JSON.stringify({ hlc: { logical: 0, wall: 9 }, text: 't', author: 'al', room: 'al', kind: 'post', seq: 1, origin: 'o', id: 'i', extra: 1 });
  t.equal(
    eventToLine(asEvent(JSON.parse(reordered)) as ChatEvent),
    '{"id":"i","origin":"o","seq":1,"kind":"post","room":"al","author":"al","text":"t","hlc":{"wall":9,"logical":0}}',
    'key order and unknown fields do not change the canonical line',
  );
});

t.test('asEvent rejects malformed input', async (t) => {
  const good = JSON.parse(eventToLine(ev({ origin: 'm1.w0', seq: 3 }))) as Record<string, unknown>;
  t.ok(asEvent(good), 'the well-formed base event is accepted');
  const without = (k: string): Record<string, unknown> => {
    const o = { ...good };
    delete o[k];
    return o;
  };
  const cases: [string, unknown][] = [
    ['null', null],
    ['a string', 'post'],
    ['a number', 7],
    ['an array', [good]],
    ...['id', 'origin', 'seq', 'kind', 'room', 'author', 'text', 'hlc'].map((k): [string, unknown] => [`missing ${k}`, without(k)]),
    ['empty id', { ...good, id: '' }],
    ['numeric id', { ...good, id: 5 }],
    ['empty origin', { ...good, origin: '' }],
    ['seq as a string', { ...good, seq: '3' }],
    ['seq 0', { ...good, seq: 0 }],
    ['negative seq', { ...good, seq: -1 }],
    ['non-integer seq', { ...good, seq: 1.5 }],
    ['unsafe seq', { ...good, seq: 2 ** 60 }],
    ['NaN seq', { ...good, seq: NaN }],
    ['unknown kind', { ...good, kind: 'delete' }],
    ['kind in another case', { ...good, kind: 'POST' }],
    ['numeric text', { ...good, text: 1 }],
    ['null text', { ...good, text: null }],
    ['empty room', { ...good, room: '' }],
    ['empty author', { ...good, author: '' }],
    ['hlc null', { ...good, hlc: null }],
    ['hlc a number', { ...good, hlc: 5 }],
    ['hlc missing logical', { ...good, hlc: { wall: 5 } }],
    ['hlc negative wall', { ...good, hlc: { wall: -5, logical: 0 } }],
    ['hlc fractional logical', { ...good, hlc: { wall: 5, logical: 0.5 } }],
    ['hlc wall as a string', { ...good, hlc: { wall: '5', logical: 0 } }],
  ];
  for (const [what, x] of cases) t.equal(asEvent(x), null, `rejects ${what}`);
});

t.test('asEvent rejects rooms and authors that are not usernames (room names become file names)', async (t) => {
  const good = JSON.parse(eventToLine(ev({ origin: 'm1.w0', seq: 3 }))) as Record<string, unknown>;
  for (const bad of ['../x', '../../etc/passwd', 'a/b', '.', '..', '-x', 'a\\b', 'x'.repeat(33), 'é']) {
    t.equal(asEvent({ ...good, room: bad }), null, `rejects room ${JSON.stringify(bad)}`);
    t.equal(asEvent({ ...good, author: bad }), null, `rejects author ${JSON.stringify(bad)}`);
  }
});

t.test('of the copies of a retried post, every arrival order shows the same one, and a room tail shows that one', async (t) => {
  const copy = fc.record({ wall: fc.integer({ min: 1, max: 4 }), logical: fc.integer({ min: 0, max: 2 }), origin: fc.constantFrom('m1.aa.w0', 'm2.bb.w0', 'm3.cc.w1') });
  fc.assert(
    fc.property(fc.uniqueArray(copy, { minLength: 1, maxLength: 6, selector: (c) => `${c.wall}/${c.logical}/${c.origin}` }), fc.nat(), (keys, seed) => {
      const copies = keys.map((k, i) => ev({ origin: k.origin, seq: i + 1, id: 'post/alice/retried', hlc: { wall: k.wall, logical: k.logical } }));
      const first = [...copies].sort(compareEvents)[0];
      const arrived = shuffled(copies, rng(seed));
      t.equal(arrived.reduce(shownCopy), first, 'the first in key order');
      const tail = new RoomTail(10);
      for (const e of arrived) tail.add(e);
      t.equal(tail.get('post/alice/retried'), first, 'the tail shows it');
      t.equal(tail.posts.length, 1, 'once');
    }),
    { numRuns: 200, seed: 13 },
  );
});
