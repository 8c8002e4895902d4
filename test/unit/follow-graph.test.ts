/**
 * The follow graph: membership is decided by each user's latest join or leave by
 * the ordering key, so every machine derives the same graph from the same events.
 */
import t from 'tap';
import type { ChatEvent } from '../../lib/core/event';
import { FollowGraph } from '../../lib/core/follow-graph';
import { NameTable } from '../../lib/core/name-table';
import { ev, rng, shuffled } from '../helpers/events';

function follow(kind: 'join' | 'leave', author: string, room: string, wall: number, origin = 'm1.w0'): ChatEvent {
  return ev({ origin, seq: wall, kind, author, room, text: '', id: `${kind}/${author}/${room}/${wall}-${origin}`, hlc: { wall, logical: 0 } });
}

function graphOf(events: ChatEvent[]): FollowGraph {
  const g = new FollowGraph();
  for (const e of events) g.apply(e);
  return g;
}

/** Who receives a room's events among `users`: its owner and its followers. */
function audience(g: FollowGraph, room: string, users: string[]): string[] {
  return [...new Set([room, ...users.filter((u) => g.isFollowing(u, room))])].sort();
}

/** Snapshotted and restored over a copy of its name table (as a checkpoint does). */
function restored(g: FollowGraph, snap = g.snapshot()): FollowGraph {
  return FollowGraph.fromSnapshot(snap, new NameTable(g.names.slice()));
}

function snapshot(g: FollowGraph, users: string[]): string {
  return users.map((u) => `${u}->${g.following(u).join(',')} | ${u}<-${audience(g, u, users).join(',')}`).join('\n');
}

t.test('the latest join or leave by key wins, regardless of arrival order', async (t) => {
  const join1 = follow('join', 'ann', 'bob', 10);
  const leave = follow('leave', 'ann', 'bob', 20);
  const join2 = follow('join', 'ann', 'bob', 30);
  for (const order of [
    [join1, leave, join2],
    [join2, leave, join1],
    [leave, join2, join1],
  ]) {
    t.ok(graphOf(order).isFollowing('ann', 'bob'), `join@30 wins (arrival ${order.map((e) => e.hlc.wall).join(',')})`);
  }
  for (const order of [
    [join1, leave],
    [leave, join1],
  ]) {
    t.notOk(graphOf(order).isFollowing('ann', 'bob'), `leave@20 wins over join@10 (arrival ${order.map((e) => e.hlc.wall).join(',')})`);
  }
});

t.test('a tie on the clock is broken by origin, the same way everywhere', async (t) => {
  const joinM1 = follow('join', 'ann', 'bob', 10, 'm1.w0');
  const leaveM2 = follow('leave', 'ann', 'bob', 10, 'm2.w0');
  t.notOk(graphOf([joinM1, leaveM2]).isFollowing('ann', 'bob'), 'm2 sorts after m1: its leave wins');
  t.notOk(graphOf([leaveM2, joinM1]).isFollowing('ann', 'bob'), 'in either arrival order');
});

t.test('apply() reports whether membership changed', async (t) => {
  const g = new FollowGraph();
  t.equal(g.apply(follow('join', 'ann', 'bob', 10)), true, 'first join');
  t.equal(g.apply(follow('join', 'ann', 'bob', 11)), false, 'a later join while already in');
  t.equal(g.apply(follow('leave', 'ann', 'bob', 5)), false, 'an older leave arriving late');
  t.equal(g.apply(follow('leave', 'ann', 'bob', 12)), true, 'a newer leave');
  t.equal(g.apply(ev({ origin: 'm1.w0', seq: 1, kind: 'post', room: 'bob', author: 'ann' })), false, 'posts do not touch the graph');
});

t.test('many users and rooms converge to one graph from any arrival order', async (t) => {
  const users = ['ann', 'bob', 'cat', 'dan'];
  const random = rng(1);
  const events: ChatEvent[] = [];
  for (let i = 0; i < 200; i++) {
    const author = users[Math.floor(random() * users.length)];
    const room = users[Math.floor(random() * users.length)];
    // Few distinct walls, so ties on the clock happen and origins decide.
    events.push(follow(random() < 0.5 ? 'join' : 'leave', author, room, Math.floor(random() * 40), `m${1 + (i % 3)}.w0`));
  }
  const expected = snapshot(graphOf(events), users);
  for (let round = 0; round < 20; round++) {
    const got = snapshot(graphOf(shuffled(events, random)), users);
    if (got !== expected) {
      t.equal(got, expected, `arrival order ${round}`);
      return;
    }
  }
  t.pass('20 arrival orders give the same graph');
});

t.test('everyone always follows their own room', async (t) => {
  const g = new FollowGraph();
  t.ok(g.isFollowing('ann', 'ann'), 'without any event');
  t.same(g.following('ann'), ['ann']);
  g.apply(follow('leave', 'ann', 'ann', 10));
  t.ok(g.isFollowing('ann', 'ann'), 'even after leaving it');
  t.same(g.following('ann'), ['ann']);
  g.apply(follow('join', 'ann', 'ann', 11));
  t.same(g.following('ann'), ['ann'], 'joining it does not list it twice');
});

t.test('following lists the rooms followed, sorted; audience lists owner and followers', async (t) => {
  const g = graphOf([
    follow('join', 'ann', 'dan', 1),
    follow('join', 'ann', 'bob', 2),
    follow('join', 'cat', 'bob', 3),
    follow('join', 'dan', 'bob', 4),
    follow('leave', 'dan', 'bob', 5),
  ]);
  t.same(g.following('ann'), ['ann', 'bob', 'dan']);
  const everyone = ['ann', 'bob', 'cat', 'dan', 'eve'];
  t.same(audience(g, 'bob', everyone), ['ann', 'bob', 'cat'], 'owner and current followers, not those who left');
  t.same(audience(g, 'eve', everyone), ['eve'], 'a room nobody joined reaches its owner');
  t.notOk(g.isFollowing('bob', 'ann'), 'following is one-way');
});

t.test('a snapshot restores the same graph, and it keeps deciding by the same keys', async (t) => {
  const random = rng(21);
  const users = ['ann', 'bob', 'cat', 'dan', 'eve'];
  const events: ChatEvent[] = [];
  for (let i = 0; i < 300; i++) {
    const author = users[Math.floor(random() * users.length)];
    const room = users[Math.floor(random() * users.length)];
    if (author !== room) events.push(follow(random() < 0.6 ? 'join' : 'leave', author, room, 1 + Math.floor(random() * 100), `m${1 + Math.floor(random() * 3)}.w0`));
  }
  const whole = graphOf(events);
  const empty = restored(new FollowGraph());
  empty.apply(events[0]);
  t.equal(empty.size, 1, 'an empty graph restored takes events (it grows from nothing)');
  const half = restored(graphOf(events.slice(0, 150)));
  for (const e of events.slice(150)) half.apply(e);
  t.equal(snapshot(half, users), snapshot(whole, users), 'half applied, snapshotted, restored, the rest applied: the same graph');
  t.equal(half.size, whole.size);
  const g = graphOf(events);
  const broken = g.snapshot();
  broken.room = broken.room.slice(1);
  t.throws(() => restored(g, broken), /differ in length/, 'a snapshot whose arrays disagree is refused');
  const outside = g.snapshot();
  outside.room[3] = g.names.size;
  t.throws(() => restored(g, outside), /names nothing/, 'a slot naming a room past the name table is refused');
});
