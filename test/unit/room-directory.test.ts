/**
 * The user directory behind `list`: pages by prefix in name order, followed rooms
 * first, every room exactly once across the pages, and a page whose cost and size
 * do not grow with the number of users.
 */
import t from 'tap';
import { ftchatProto } from '../../lib/common/proto';
import { listPage, MAX_PAGE_SIZE, pageSize, RoomDirectory, type ListPage } from '../../lib/core/room-directory';
import { MAX_USERNAME_CHARS } from '../../lib/core/usernames';
import { rng } from '../helpers/events';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-';

function randomName(random: () => number, maxLength = 6): string {
  const length = 1 + Math.floor(random() * maxLength);
  let s = ALPHABET[Math.floor(random() * 63)]; // a name starts with neither '.' nor '-'
  while (s.length < length) s += ALPHABET[Math.floor(random() * ALPHABET.length)];
  return s;
}

/** What a page must hold, by the obvious slow way. */
function naive(names: string[], prefix: string, after: string, limit: number): { names: string[]; more: boolean } {
  const all = [...new Set(names)].filter((n) => n.startsWith(prefix) && n > after).sort();
  return { names: all.slice(0, limit), more: all.length > limit };
}

/** Every page of a listing, from the first token to the empty one. */
function allPages(dir: RoomDirectory, followed: string[], prefix: string, limit: number): ListPage[] {
  const pages: ListPage[] = [];
  let token = '';
  do {
    const page = listPage(dir, followed, prefix, token, limit);
    if (!page) throw new Error(`token ${token} refused`);
    pages.push(page);
    token = page.next;
  } while (token !== '' && pages.length < 10_000);
  return pages;
}

t.test('add, has and size; adding a name twice keeps one', async (t) => {
  const dir = new RoomDirectory(['carol', 'alice']);
  dir.add('bob');
  dir.add('alice');
  t.equal(dir.size, 3);
  t.ok(dir.has('bob') && dir.has('alice') && dir.has('carol'));
  t.notOk(dir.has('al'), 'a prefix of a name is not a name');
  t.notOk(dir.has('dave'));
  t.same(dir.page('', '', 10), { names: ['alice', 'bob', 'carol'], more: false });
});

t.test('a page is the names with the prefix after the given one, in name order', async (t) => {
  const dir = new RoomDirectory(['ann', 'anna', 'annie', 'bob', 'an', 'ben', 'Anne']);
  t.same(dir.page('an', '', 2), { names: ['an', 'ann'], more: true });
  t.same(dir.page('an', 'ann', 2), { names: ['anna', 'annie'], more: false });
  t.same(dir.page('an', 'zzz', 2), { names: [], more: false }, 'after the last name: nothing');
  t.same(dir.page('b', 'a', 5), { names: ['ben', 'bob'], more: false }, 'an `after` before the prefix starts at the prefix');
  t.same(dir.page('A', '', 5), { names: ['Anne'], more: false }, 'the prefix is case-sensitive, as names are');
  t.same(dir.page('x', '', 5), { names: [], more: false });
  t.same(dir.page('', '', 0), { names: [], more: true }, 'a page of 0 only says whether names exist');
});

t.test('pages match a naive filter and sort over random names (property)', async (t) => {
  const random = rng(7);
  for (let round = 0; round < 300; round++) {
    const names = Array.from({ length: Math.floor(random() * 60) }, () => randomName(random, 4));
    const dir = new RoomDirectory(names.slice(0, names.length >> 1));
    for (const n of names.slice(names.length >> 1)) dir.add(n);
    const prefix = random() < 0.3 ? '' : randomName(random, 2);
    const after = random() < 0.5 ? '' : randomName(random, 4);
    const limit = Math.floor(random() * 8);
    const want = naive(names, prefix, after, limit);
    const got = dir.page(prefix, after, limit);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      t.same(got, want, `round ${round}: prefix '${prefix}', after '${after}', limit ${limit} over ${JSON.stringify(names)}`);
      return;
    }
    t.equal(dir.size, new Set(names).size);
  }
  t.pass('300 random directories agree with the naive filter');
});

t.test('listing pages cover every matching room exactly once, followed ones first (property)', async (t) => {
  const random = rng(11);
  for (let round = 0; round < 200; round++) {
    const names = [...new Set(Array.from({ length: 1 + Math.floor(random() * 80) }, () => randomName(random, 3)))];
    const followed = names.filter(() => random() < 0.3).sort();
    const dir = new RoomDirectory(names);
    const prefix = random() < 0.4 ? '' : randomName(random, 1);
    const limit = 1 + Math.floor(random() * 7);
    const pages = allPages(dir, followed, prefix, limit);
    const seen = pages.flatMap((p) => [...p.following, ...p.others]);
    const matching = names.filter((n) => n.startsWith(prefix));
    const want = [...followed.filter((n) => n.startsWith(prefix)), ...matching.filter((n) => !followed.includes(n)).sort()];
    const sizes = pages.map((p) => p.following.length + p.others.length);
    const ok =
      JSON.stringify(seen) === JSON.stringify(want) &&
      sizes.every((s) => s <= limit) &&
      sizes.slice(0, -1).every((s) => s === limit) &&
      pages.every((p) => p.following.every((n) => followed.includes(n)) && p.others.every((n) => !followed.includes(n)));
    if (!ok) {
      t.same({ seen, sizes }, { want, limit }, `round ${round}: prefix '${prefix}', limit ${limit}, followed ${JSON.stringify(followed)}`);
      return;
    }
  }
  t.pass('200 random listings: every room once, in order, full pages but the last');
});

t.test('a user following fewer rooms than a page sees them all on the first page', async (t) => {
  const dir = new RoomDirectory(['ann', 'bob', 'cat', 'dan', 'eve', 'fay']);
  const first = listPage(dir, ['bob', 'eve'], '', '', 4);
  t.same(first, { following: ['bob', 'eve'], others: ['ann', 'cat'], next: 'o:cat' });
  t.same(listPage(dir, ['bob', 'eve'], '', 'o:cat', 4), { following: [], others: ['dan', 'fay'], next: '' });
  t.same(listPage(dir, ['bob', 'eve'], '', '', 2), { following: ['bob', 'eve'], others: [], next: 'o:' }, 'a page full of followed rooms goes on with the others');
  t.same(listPage(dir, ['bob'], 'x', '', 5), { following: [], others: [], next: '' }, 'no room has the prefix');
});

t.test('a token the server did not make is refused', async (t) => {
  const dir = new RoomDirectory(['ann']);
  for (const bad of ['x', 'o', 'ann', 'q:ann']) t.equal(listPage(dir, [], '', bad, 5), null, bad);
});

t.test('a directory of 100,000 names: every page costs a binary search and the page', async (t) => {
  const random = rng(3);
  // The number after the last dot makes every name distinct.
  const names = Array.from({ length: 100_000 }, (_, i) => `${randomName(random, 8)}.${i}`);
  const dir = new RoomDirectory(names);
  t.equal(dir.size, 100_000);
  const sorted = [...names].sort();
  // Walk the whole directory in pages of 500; each page must agree with the sorted copy.
  let after = '';
  let seen = 0;
  const started = process.hrtime.bigint();
  for (;;) {
    const page = dir.page('', after, 500);
    if (page.names.join() !== sorted.slice(seen, seen + page.names.length).join()) {
      t.fail(`page after '${after}' differs from the sorted names`);
      return;
    }
    seen += page.names.length;
    if (!page.more) break;
    after = page.names[page.names.length - 1];
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.equal(seen, 100_000, 'pages cover every name');
  // 200 pages by binary search are a few ms; a scan per page would be 200 x 100,000 comparisons.
  t.ok(ms < 500, `200 pages in ${ms.toFixed(1)} ms`);
  // A one-letter prefix matches about 1,600 names, so each page is full; a filter over
  // the 100,000 names takes milliseconds a page.
  const one = process.hrtime.bigint();
  let listed = 0;
  for (let i = 0; i < 1000; i++) listed += dir.page(sorted[i * 97].slice(0, 1), sorted[i * 97], 50).names.length;
  const perPage = Number(process.hrtime.bigint() - one) / 1e6 / 1000;
  t.ok(listed > 40_000, `${listed} names in 1,000 pages`);
  t.ok(perPage < 0.25, `a page of 50 with a prefix costs ${perPage.toFixed(3)} ms`);
});

t.test('the granted page size: default, caps, and a page of the longest names fits the message limit', async (t) => {
  t.equal(pageSize(0, 64 * 1024), 50, 'no size asked: the default');
  t.equal(pageSize(10, 64 * 1024), 10);
  t.equal(pageSize(1_000_000, 64 * 1024), MAX_PAGE_SIZE, 'never more than the maximum');
  const encode = ftchatProto().ftchat.Chat.service.List.responseSerialize as (r: unknown) => Buffer;
  for (const maxBytes of [1024, 4096, 16 * 1024, 64 * 1024, 1 << 20]) {
    const n = pageSize(1_000_000, maxBytes);
    const longest = (i: number): string => `${i}`.padStart(MAX_USERNAME_CHARS, 'x');
    const worst = {
      rooms: Array.from({ length: n }, (_, i) => ({ name: longest(i), following: true, own: true })),
      next_page_token: `o:${longest(0)}`,
    };
    const bytes = encode(worst).length;
    t.ok(n >= 1 && bytes <= maxBytes, `limit ${maxBytes}: ${n} rooms a page, at worst ${bytes} bytes`);
  }
});
