/**
 * `list` keeps working however many users exist: with more users than one answer
 * can carry (the message limit is lowered so a few hundred users are enough), the
 * List RPC and `./fbc`'s `list`, `more` and `list <prefix>` page through the
 * directory, and the pages hold every user exactly once.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { ftchatProto } from '../../lib/common/proto';
import { MORE_ROOMS_HINT } from '../../lib/client/format';
import { pageSize } from '../../lib/core/room-directory';
import { runFbc } from '../helpers/fbc';
import { call, RAISED_QUOTAS, startCluster, type TestCluster } from '../helpers/server';

const MAX_MESSAGE_BYTES = 1024; // the server sends at most 4 times this
const PAGE = pageSize(0, MAX_MESSAGE_BYTES);
const users = [
  ...Array.from({ length: 300 }, (_, i) => `user.${String(i).padStart(3, '0')}`),
  ...Array.from({ length: 100 }, (_, i) => `vip.${String(i).padStart(3, '0')}`),
];
const me = 'user.000';
const followed = [me, 'user.150', 'vip.050']; // in name order, as a page lists them

let cluster: TestCluster;
t.before(async () => {
  cluster = await startCluster({ workers: 2, quotas: RAISED_QUOTAS, limits: { maxMessageBytes: MAX_MESSAGE_BYTES } });
  const c = cluster.client();
  for (let i = 0; i < users.length; i += 50) await Promise.all(users.slice(i, i + 50).map((user) => call(c, 'Connect', { user })));
  for (const room of followed.slice(1)) await call(c, 'Join', { user: me, room });
});
t.teardown(() => cluster.teardown());

interface Room {
  name: string;
  following: boolean;
  own: boolean;
}

/** Every page of the List RPC from the first token to the empty one. */
async function listAll(prefix: string, limit: number): Promise<Room[][]> {
  const c = cluster.client();
  const pages: Room[][] = [];
  let page_token = '';
  do {
    const res = await call(c, 'List', { user: me, prefix, limit, page_token });
    pages.push(res.rooms);
    page_token = res.next_page_token;
  } while (page_token !== '' && pages.length <= users.length);
  return pages;
}

/** The names a listing must show: followed rooms first, then the others, each in name order. */
function expected(prefix: string): string[] {
  const match = (n: string): boolean => n.startsWith(prefix);
  return [...followed.filter(match), ...users.filter((n) => match(n) && !followed.includes(n)).sort()];
}

t.test('the old one-answer list would not fit the message limit here', async (t) => {
  const encode = ftchatProto().ftchat.Chat.service.List.responseSerialize as (r: unknown) => Buffer;
  const everyRoom = encode({ rooms: users.map((name) => ({ name, following: followed.includes(name), own: name === me })) });
  t.ok(everyRoom.length > 4 * MAX_MESSAGE_BYTES, `every room in one answer: ${everyRoom.length} bytes, more than the ${4 * MAX_MESSAGE_BYTES} the server may send`);
});

t.test('the pages of the List RPC hold every user exactly once, within the size cap', async (t) => {
  for (const limit of [0, 7, 1_000_000]) {
    const pages = await listAll('', limit);
    const names = pages.flat().map((r) => r.name);
    t.same(names, expected(''), `limit ${limit}: every user once, followed rooms first, then in name order`);
    const cap = limit === 0 ? PAGE : Math.min(limit, PAGE);
    t.ok(pages.every((p) => p.length <= cap) && pages.slice(0, -1).every((p) => p.length === cap), `limit ${limit}: full pages of ${cap}`);
    t.same(
      pages[0].slice(0, 3),
      [
        { name: me, following: true, own: true },
        { name: 'user.150', following: true, own: false },
        { name: 'vip.050', following: true, own: false },
      ],
      'the first page starts with the rooms the user follows',
    );
  }
});

t.test('a prefix searches: its pages hold exactly the users whose names start with it', async (t) => {
  for (const prefix of ['vip.', 'user.1', 'user.15', 'nobody']) {
    const names = (await listAll(prefix, 0)).flat().map((r) => r.name);
    t.same(names, expected(prefix), `prefix '${prefix}'`);
  }
});

t.test('a page token the server did not make is refused', async (t) => {
  const err = await call(cluster.client(), 'List', { user: me, prefix: '', limit: 0, page_token: 'garbage' }).catch((e) => e);
  t.match(err, { code: grpc.status.INVALID_ARGUMENT, details: 'bad page token' });
});

/** The room names a client printed ('* name (note)' or '  name'). */
const roomsIn = (out: string[]): string[] => out.filter((l) => /^[* ] \S/.test(l)).map((l) => l.slice(2).split(' ')[0]);

t.test("fbc: 'list' shows the followed rooms and a first page, and 'more' goes through everyone once", async (t) => {
  const pages = Math.ceil(users.length / PAGE);
  const r = await runFbc(t, ['-u', me, '-s', cluster.address()], ['list', ...Array(pages).fill('more'), 'quit']);
  t.equal(r.code, 0);
  t.same(r.out.slice(1, 4), [`* ${me} (your room)`, '* user.150 (following)', '* vip.050 (following)']);
  t.equal(r.out[PAGE + 1], MORE_ROOMS_HINT, 'the first page ends by saying how to see more');
  t.same(roomsIn(r.out), expected(''), 'list and more together show every user exactly once');
  t.equal(r.out.filter((l) => l === MORE_ROOMS_HINT).length, pages - 1, 'every page but the last says there is more');
  t.same(r.err, ["error: nothing more to list; type 'list' or 'list <prefix>'"], "a 'more' after the last page says so");
});

t.test("fbc: 'list <prefix>' searches, case-insensitively as a command", async (t) => {
  const r = await runFbc(t, ['-u', me, '-s', cluster.address()], ['LIST vip.09', 'list nobody', 'quit']);
  t.equal(r.code, 0);
  t.same(r.out.slice(1), [...expected('vip.09').map((n) => `  ${n}`), "no rooms start with 'nobody'"]);
  t.same(r.err, []);
});
