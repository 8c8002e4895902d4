/**
 * The chat service on one machine, driven over real gRPC against the real
 * `fbs start` process tree: the promises of the design brief's client contract
 * as the server keeps them.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { authedChatClient } from '../../lib/client/identity';
import type { ChatClient } from '../../lib/gen/ftchat/Chat';
import type { Event__Output } from '../../lib/gen/ftchat/Event';
import { call, RAISED_QUOTAS, startCluster, testKeys, type TestCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { credentialsFor } from '../helpers/trust';

let cluster: TestCluster;
t.before(async () => {
  cluster = await startCluster({ workers: 2, quotas: RAISED_QUOTAS, limits: { maxPostChars: 50, maxMessageBytes: 4096 } });
});
t.teardown(() => cluster.teardown());

/** A client on its own TCP connection, so connections land on different workers. */
function ownConnection(): ChatClient {
  return authedChatClient(cluster.address(), testKeys, { 'grpc.use_local_subchannel_pool': 1 }, credentialsFor(cluster.address()));
}

async function codeOf(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: number; details: string };
  }
  throw new Error('expected the call to be refused');
}

function collect(stream: grpc.ClientReadableStream<{ event: Event__Output | null }>): Event__Output[] {
  const seen: Event__Output[] = [];
  stream.on('data', (item) => item.event && seen.push(item.event));
  stream.on('error', () => undefined);
  return seen;
}

t.test('connecting creates the user’s own room, once', async (t) => {
  const c = cluster.client();
  const first = await call(c, 'Connect', { user: 'ann' });
  const again = await call(c, 'Connect', { user: 'ann' });
  t.equal(first.created, true);
  t.equal(again.created, false);
  t.same(first.following, ['ann'], 'everyone follows their own room');
  const list = await call(c, 'List', { user: 'ann' });
  t.ok(list.rooms.some((r: { name: string; own: boolean }) => r.name === 'ann' && r.own));
});

t.test('a post accepted by one worker reaches a subscriber served by the other', async (t) => {
  // Open connections until both workers are in use.
  const byWorker = new Map<string, ChatClient>();
  await waitFor('connections on both workers', async () => {
    const c = ownConnection();
    const r = await call(c, 'Connect', { user: 'wanda' });
    if (!byWorker.has(r.worker)) byWorker.set(r.worker, c);
    else c.close();
    return byWorker.size >= 2;
  });
  const [reader, writer] = [...byWorker.values()];
  await call(writer, 'Connect', { user: 'walt' });
  await call(reader, 'Connect', { user: 'wanda' });
  await call(reader, 'Join', { user: 'wanda', room: 'walt' });
  const tl = await call(reader, 'Timeline', { user: 'wanda' });
  const seen = collect(reader.Subscribe({ user: 'wanda', cursor: tl.cursor }));
  const ack = await call(writer, 'Post', { user: 'walt', id: 'cross-worker-1', text: 'hello from the other worker' });
  await waitFor('the post on the other worker', () => seen.find((e) => e.id === ack.event.id));
  t.equal(seen.filter((e) => e.id === ack.event.id).length, 1, 'delivered once');
  for (const c of byWorker.values()) c.close();
});

t.test('chat mode starts with the last 20 posts of followed rooms, oldest first', async (t) => {
  const c = cluster.client();
  await call(c, 'Connect', { user: 'hist' });
  await call(c, 'Connect', { user: 'histfan' });
  await call(c, 'Join', { user: 'histfan', room: 'hist' });
  for (let i = 1; i <= 25; i++) {
    await call(c, 'Post', { user: i % 5 === 0 ? 'histfan' : 'hist', id: `h${i}`, text: `message ${i}` });
  }
  const tl = await call(c, 'Timeline', { user: 'histfan' });
  t.same(
    tl.events.map((e: Event__Output) => e.text),
    Array.from({ length: 20 }, (_, i) => `message ${i + 6}`),
  );
});

t.test('a retried post is stored once', async (t) => {
  const c = cluster.client();
  await call(c, 'Connect', { user: 'retry' });
  const [a, b] = await Promise.all([
    call(c, 'Post', { user: 'retry', id: 'same-id', text: 'once' }),
    call(c, 'Post', { user: 'retry', id: 'same-id', text: 'once' }),
  ]);
  const c2 = await call(c, 'Post', { user: 'retry', id: 'same-id', text: 'once' });
  t.equal(a.event.seq, b.event.seq);
  t.equal(a.event.origin, c2.event.origin);
  const tl = await call(c, 'Timeline', { user: 'retry' });
  t.equal(tl.events.filter((e: Event__Output) => e.text === 'once').length, 1);
});

t.test('join and leave: notifications reach the room, and are refused while in chat mode', async (t) => {
  const c = cluster.client();
  await call(c, 'Connect', { user: 'owner' });
  await call(c, 'Connect', { user: 'guest' });
  const ownerTl = await call(c, 'Timeline', { user: 'owner' });
  const ownerSees = collect(c.Subscribe({ user: 'owner', cursor: ownerTl.cursor }));
  await call(c, 'Join', { user: 'guest', room: 'owner' });
  await waitFor('the join notification', () => ownerSees.find((e) => e.kind === 'join' && e.author === 'guest'));

  const guestStream = c.Subscribe({ user: 'guest', cursor: (await call(c, 'Timeline', { user: 'guest' })).cursor });
  collect(guestStream);
  const refused = await waitFor('chat mode to be in force', async () => {
    const err = await codeOf(call(c, 'Leave', { user: 'guest', room: 'owner' }));
    return err.code === grpc.status.FAILED_PRECONDITION ? err : null;
  });
  t.match(refused.details, /chat mode/);
  guestStream.cancel();
  await waitFor('leave to be allowed after chat mode', async () => {
    await call(c, 'Leave', { user: 'guest', room: 'owner' });
    return true;
  });
  await waitFor('the leave notification', () => ownerSees.find((e) => e.kind === 'leave' && e.author === 'guest'));
});

t.test('while a user is in chat mode on one worker, join and leave are refused through every worker', async (t) => {
  const c = cluster.client();
  await call(c, 'Connect', { user: 'roamer' });
  await call(c, 'Connect', { user: 'host' });
  const stream = c.Subscribe({ user: 'roamer', cursor: (await call(c, 'Timeline', { user: 'roamer' })).cursor });
  collect(stream);
  // New connections go to the workers in turn: the Joins reach the worker without the stream too.
  const conns = Array.from({ length: 6 }, ownConnection);
  t.teardown(() => conns.forEach((x) => x.close()));
  const workersReached = new Set<string>();
  for (const [i, conn] of conns.entries()) {
    // The relay to the other worker takes a moment; a Leave of a room not followed changes
    // nothing whatever the answer, so it can wait that out.
    await waitFor('chat mode known to the worker', async () => {
      const e = await codeOf(call(conn, 'Leave', { user: 'roamer', room: 'host' }));
      return /chat mode/.test(e.details) ? e : null;
    });
    const err = await codeOf(call(conn, 'Join', { user: 'roamer', room: 'host' }));
    t.equal(err.code, grpc.status.FAILED_PRECONDITION, 'join refused');
    t.match(err.details, /chat mode/, 'because of chat mode');
    workersReached.add((await call(conn, 'Post', { user: 'host', id: `which-worker-${i}`, text: 'p' })).event.origin); // its writer slot
  }
  t.equal(workersReached.size, 2, 'the refusals came through both workers');
  stream.cancel();
  const after = await waitFor('chat mode to end', async () => {
    const code = await call(conns[0], 'Join', { user: 'roamer', room: 'host' }).then(() => grpc.status.OK, (e: { code: number }) => e.code);
    return code === grpc.status.FAILED_PRECONDITION ? null : { code };
  });
  t.equal(after.code, grpc.status.OK, 'the first join accepted is this one: none slipped through during chat mode');
});

t.test('bad input is refused with a clear message and changes nothing', async (t) => {
  const c = cluster.client();
  await call(c, 'Connect', { user: 'careful' });
  const cases: [string, () => Promise<unknown>, number, RegExp][] = [
    ['bad username', () => call(c, 'Connect', { user: '../etc' }), grpc.status.INVALID_ARGUMENT, /bad username/],
    ['unknown user', () => call(c, 'Join', { user: 'careful', room: 'nobody' }), grpc.status.NOT_FOUND, /unknown user 'nobody'/],
    ['own room', () => call(c, 'Join', { user: 'careful', room: 'careful' }), grpc.status.INVALID_ARGUMENT, /own room/],
    ['leave unfollowed', () => call(c, 'Leave', { user: 'careful', room: 'ann' }), grpc.status.FAILED_PRECONDITION, /do not follow/],
    ['too long', () => call(c, 'Post', { user: 'careful', id: '', text: 'x'.repeat(51) }), grpc.status.INVALID_ARGUMENT, /too long: 51 characters, the limit is 50/],
    ['empty', () => call(c, 'Post', { user: 'careful', id: '', text: '   ' }), grpc.status.INVALID_ARGUMENT, /empty post/],
    ['multi-line', () => call(c, 'Post', { user: 'careful', id: '', text: 'a\nb' }), grpc.status.INVALID_ARGUMENT, /one line/],
    ['bad post id', () => call(c, 'Post', { user: 'careful', id: 'a/b', text: 'x' }), grpc.status.INVALID_ARGUMENT, /post id/],
    ['oversized message', () => call(c, 'Post', { user: 'careful', id: '', text: 'y'.repeat(10_000) }), grpc.status.RESOURCE_EXHAUSTED, /./],
  ];
  for (const [name, p, code, message] of cases) {
    const err = await codeOf(p());
    t.equal(err.code, code, `${name}: status`);
    t.match(err.details, message, `${name}: message`);
  }
  const tl = await call(c, 'Timeline', { user: 'careful' });
  t.same(tl.events, [], 'nothing was stored');
});

t.test('poll returns what came after the cursor, then nothing', async (t) => {
  const c = cluster.client();
  await call(c, 'Connect', { user: 'poller' });
  const start = await call(c, 'Timeline', { user: 'poller' });
  for (let i = 0; i < 3; i++) await call(c, 'Post', { user: 'poller', id: `poll${i}`, text: `p${i}` });
  const page = await call(c, 'Poll', { user: 'poller', cursor: start.cursor, max: 2 });
  t.same(page.events.map((e: Event__Output) => e.text), ['p0', 'p1']);
  const rest = await call(c, 'Poll', { user: 'poller', cursor: page.cursor });
  t.same(rest.events.map((e: Event__Output) => e.text), ['p2']);
  const none = await call(c, 'Poll', { user: 'poller', cursor: rest.cursor });
  t.same(none.events, []);
});
