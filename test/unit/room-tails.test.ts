/**
 * Room tails: the recent posts of the rooms in use, bounded per room and in
 * number of rooms, with one copy shown per retried post, the same on every machine.
 */
import t from 'tap';
import { compareEvents, type ChatEvent } from '../../lib/core/event';
import { RoomTails } from '../../lib/core/room-tails';
import { ev, rng, shuffled } from '../helpers/events';

const ids = (events: ChatEvent[]): string[] => events.map((e) => e.id);

/** A room's posts as a disk would give them: all of `stored`, in file order. */
function tailsOver(stored: ChatEvent[], rooms = 10, keep = 20): { tails: RoomTails; loads: string[] } {
  const loads: string[] = [];
  const tails = new RoomTails(rooms, keep, (room) => {
    loads.push(room);
    return stored.filter((e) => e.room === room);
  });
  return { tails, loads };
}

t.test('lastPosts gives the last N posts of the given rooms, oldest first', async (t) => {
  const posts = ['ann', 'bob', 'cat'].flatMap((room, r) =>
    Array.from({ length: 15 }, (_, i) => ev({ origin: `m${r + 1}.w0`, seq: i + 1, room, author: room, hlc: { wall: 1000 + i * 3 + r, logical: 0 } })),
  );
  const { tails } = tailsOver(shuffled(posts, rng(9)));
  const wanted = posts.filter((e) => e.room === 'ann' || e.room === 'cat').sort(compareEvents);
  t.same(ids(tails.lastPosts(['ann', 'cat'], 5)), ids(wanted.slice(-5)), 'last 5, oldest first');
  t.same(ids(tails.lastPosts(['cat', 'ann'], 500)), ids(wanted), 'all of them when fewer than N');
  t.same(tails.lastPosts(['nobody'], 5), [], 'a room without posts');
  t.same(tails.lastPosts(['ann'], 0), [], 'N = 0');
});

t.test('a tail keeps at most `keep` posts, and the cache at most `rooms` rooms, least recently used out', async (t) => {
  const posts = Array.from({ length: 50 }, (_, i) => ev({ origin: 'A', seq: i + 1, room: 'ann', author: 'ann', hlc: { wall: i + 1, logical: 0 } }));
  const { tails, loads } = tailsOver(posts, 2, 20);
  t.equal(tails.get('ann').posts.length, 20);
  t.same(ids(tails.get('ann').posts), ids(posts.slice(-20)), 'the newest 20');
  const next = ev({ origin: 'A', seq: 51, room: 'ann', author: 'ann', hlc: { wall: 51, logical: 0 } });
  t.ok(tails.addPost(next), 'a new post is taken into a cached tail');
  t.equal(tails.get('ann').posts.at(-1)?.id, next.id);
  t.equal(tails.get('ann').posts.length, 20, 'and the oldest drops out');
  tails.get('bob');
  tails.get('cat');
  t.equal(tails.size, 2, 'two rooms at most');
  tails.get('ann');
  t.same(loads, ['ann', 'bob', 'cat', 'ann'], 'ann was evicted (least recently used) and loaded again');
  t.ok(tails.addPost(ev({ origin: 'A', seq: 52, room: 'dan', author: 'dan' })), 'a post to an uncached room is news');
  t.equal(tails.size, 2, 'and does not load it');
});

t.test('a post stored under several slots shows the same copy whatever the arrival order', async (t) => {
  // A retried post stored on several machines: each machine may see any copy first,
  // yet every machine must show the same timeline, and stream it once.
  const id = 'post/alice/retry-1';
  const events = [
    ev({ origin: 'm1.w0', seq: 1, id, hlc: { wall: 50, logical: 0 } }),
    ev({ origin: 'm2.w0', seq: 1, id: 'post/alice/before-copy', hlc: { wall: 40, logical: 0 } }),
    ev({ origin: 'm2.w0', seq: 2, id, hlc: { wall: 70, logical: 0 } }),
    ev({ origin: 'm3.w0', seq: 1, id, hlc: { wall: 80, logical: 0 } }),
    ev({ origin: 'm3.w0', seq: 2, id: 'post/alice/between', hlc: { wall: 60, logical: 0 } }),
  ];
  const expected = ['post/alice/before-copy@40', `${id}@50`, 'post/alice/between@60'];
  let orders = 0;
  const permute = (done: ChatEvent[], rest: ChatEvent[]): void => {
    if (rest.length === 0) {
      const { tails } = tailsOver([]);
      tails.get('alice');
      const news = done.filter((e) => tails.addPost(e));
      orders++;
      const got = tails.lastPosts(['alice'], 20).map((e) => `${e.id}@${e.hlc.wall}`);
      if (got.join() !== expected.join()) t.same(got, expected, `arrival order ${done.map((e) => `${e.origin}#${e.seq}`).join(', ')}`);
      if (news.filter((e) => e.id === id).length !== 1) t.fail('the post is news once');
      if (tails.get('alice').get(id)?.hlc.wall !== 50) t.fail('a lookup by id finds the shown copy');
      return;
    }
    rest.forEach((e, i) => permute([...done, e], [...rest.slice(0, i), ...rest.slice(i + 1)]));
  };
  permute([], events);
  t.equal(orders, 120);
  t.pass('every arrival order shows the copy first in key order, once, in the same timeline');
});

t.test('lastPosts over a thousand rooms is the same as sorting all their tails', async (t) => {
  const random = rng(42);
  const posts = Array.from({ length: 5000 }, (_, i) => {
    const room = `r${Math.floor(random() * 1000)}`;
    return ev({ origin: `m${1 + (i % 3)}.w0`, seq: i + 1, room, author: room, hlc: { wall: 1000 + Math.floor(random() * 3000), logical: i % 2 } });
  });
  const rooms = Array.from({ length: 1000 }, (_, i) => `r${i}`);
  const { tails } = tailsOver(posts, 1000, 20);
  for (const limit of [0, 1, 20, 100]) {
    const brute = rooms.flatMap((r) => posts.filter((e) => e.room === r).sort(compareEvents).slice(-20)).sort(compareEvents);
    t.same(ids(tails.lastPosts(rooms, limit)), ids(limit === 0 ? [] : brute.slice(-limit)), `the last ${limit}`);
  }
});
