/**
 * Who is shown an event: a live stream (deciding as each event is applied, with the
 * graph as it then is) and a stream resumed later from a cursor (deciding with the
 * graph as it is at the resume) apply the one rule and deliver the same events.
 */
import t from 'tap';
import fc from 'fast-check';
import { isShown } from '../../lib/core/audience';
import type { ChatEvent } from '../../lib/core/event';
import { FollowGraph } from '../../lib/core/follow-graph';
import { ev } from '../helpers/events';

const ME = 'ann';
const ROOMS = ['bob', 'cat', 'dan'];

type Step = { kind: 'post'; room: string } | { kind: 'join' | 'leave'; room: string; author: string };

/** Events in key order (one origin, rising clock), as one machine applies them; a join or leave only where it is accepted. */
function eventsOf(steps: Step[]): ChatEvent[] {
  const following = new Set<string>();
  const out: ChatEvent[] = [];
  for (const step of steps) {
    const seq = out.length + 1;
    if (step.kind === 'post') {
      out.push(ev({ origin: 'm1.aa.w0', seq, kind: 'post', author: step.room, room: step.room }));
      continue;
    }
    if (step.author === ME) {
      if (following.has(step.room) === (step.kind === 'join')) continue;
      if (step.kind === 'join') following.add(step.room);
      else following.delete(step.room);
    }
    out.push(ev({ origin: 'm1.aa.w0', seq, kind: step.kind, author: step.author, room: step.room, id: `${step.kind}/${step.author}/${step.room}/${seq}` }));
  }
  return out;
}

const shown = (g: FollowGraph, e: ChatEvent): boolean => isShown(ME, e, e.author === ME, g.membership(ME, e.room));

/** What a stream opened at `cursor` shows live: each event decided as it is applied. */
function live(events: ChatEvent[], cursor: number): string[] {
  const g = new FollowGraph();
  const out: string[] = [];
  events.forEach((e, i) => {
    g.apply(e);
    if (i >= cursor && shown(g, e)) out.push(e.id);
  });
  return out;
}

/** What a stream resumed from `cursor` shows once everything is applied. */
function resumed(events: ChatEvent[], cursor: number): string[] {
  const g = new FollowGraph();
  for (const e of events) g.apply(e);
  return events.slice(cursor).filter((e) => shown(g, e)).map((e) => e.id);
}

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('post' as const), room: fc.constantFrom(ME, ...ROOMS) }),
  fc.record({ kind: fc.constantFrom('join' as const, 'leave' as const), room: fc.constantFrom(...ROOMS), author: fc.constantFrom(ME, 'eve') }),
);
const script = fc.record({ steps: fc.array(step, { maxLength: 40 }), cut: fc.nat() });

t.test('a resumed stream delivers what the live stream delivered when the user joined nothing after the cursor', async (t) => {
  fc.assert(
    fc.property(script, ({ steps, cut }) => {
      const events = eventsOf(steps);
      const cursor = events.length === 0 ? 0 : cut % (events.length + 1);
      fc.pre(!events.slice(cursor).some((e) => e.kind === 'join' && e.author === ME));
      t.same(resumed(events, cursor), live(events, cursor));
    }),
    { numRuns: 500, seed: 13 },
  );
});

t.test('a resumed stream never misses what the live one showed, whatever the user joined or left', async (t) => {
  fc.assert(
    fc.property(script, ({ steps, cut }) => {
      const events = eventsOf(steps);
      const cursor = events.length === 0 ? 0 : cut % (events.length + 1);
      const got = new Set(resumed(events, cursor));
      for (const id of live(events, cursor)) t.ok(got.has(id), id);
    }),
    { numRuns: 500, seed: 13 },
  );
});

t.test('posts shown live before a leave are still shown when the stream resumes after it', async (t) => {
  const events = eventsOf([
    { kind: 'join', room: 'bob', author: ME },
    { kind: 'post', room: 'bob' },
    { kind: 'post', room: 'bob' },
    { kind: 'leave', room: 'bob', author: ME },
    { kind: 'post', room: 'bob' },
  ]);
  const ids = events.map((e) => e.id);
  t.same(live(events, 1), [ids[1], ids[2], ids[3]], 'live: the posts while following, then the leave');
  t.same(resumed(events, 1), live(events, 1), 'resumed after the leave: the same');
});

t.test('the rule: own room, own joins and leaves, followed rooms, and a left room up to the leave', async (t) => {
  const g = new FollowGraph();
  const post = (room: string, wall: number) => ev({ origin: 'm1.aa.w0', seq: wall, kind: 'post', author: room, room, hlc: { wall, logical: 0 } });
  t.ok(isShown(ME, post(ME, 1), false, undefined), 'own room');
  t.notOk(isShown(ME, post('bob', 1), false, undefined), 'a room never joined');
  const join = ev({ origin: 'm1.aa.w0', seq: 5, kind: 'join', author: ME, room: 'bob', hlc: { wall: 5, logical: 0 } });
  t.ok(isShown(ME, join, true, undefined), 'own join');
  t.notOk(isShown(ME, join, false, undefined), 'someone else joining a room the user does not follow');
  g.apply(join);
  t.ok(isShown(ME, post('bob', 1), false, g.membership(ME, 'bob')), 'a followed room');
  g.apply(ev({ origin: 'm1.aa.w0', seq: 10, kind: 'leave', author: ME, room: 'bob', hlc: { wall: 10, logical: 0 } }));
  t.ok(isShown(ME, post('bob', 9), false, g.membership(ME, 'bob')), 'a left room: what sorts before the leave');
  t.notOk(isShown(ME, post('bob', 11), false, g.membership(ME, 'bob')), 'a left room: nothing after it');
  t.same(g.memberships(ME).get('bob'), g.membership(ME, 'bob'));
});
