/**
 * Caps over real gRPC against a real `fbs start` tree (one worker): follows per
 * user, chat streams per user, calls in flight per connection, and the bytes a
 * slow reader may leave queued. Each is refused or cut off with a clear reason,
 * and what was cut off resumes from its cursor without losing anything.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import type { ChatClient } from '../../lib/gen/ftchat/Chat';
import type { Event__Output } from '../../lib/gen/ftchat/Event';
import { StreamCursor } from '../../lib/client/stream-cursor';
import { call, ownConnection, startCluster, type TestCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const MAX_FOLLOWS = 3;
const MAX_STREAMS_PER_USER = 2;
const MAX_STREAMS_PER_CONNECTION = 4;
const MAX_BACKLOG_BYTES = 64 * 1024;

let cluster: TestCluster;
t.before(async () => {
  cluster = await startCluster({
    workers: 1,
    limits: {
      maxFollows: MAX_FOLLOWS,
      maxStreamsPerUser: MAX_STREAMS_PER_USER,
      maxStreamsPerConnection: MAX_STREAMS_PER_CONNECTION,
      maxStreamBacklogBytes: MAX_BACKLOG_BYTES,
    },
    quotas: { postsPerUserPerSecond: 10_000, requestsPerAddressPerSecond: 10_000 }, // caps, not rates, under test
  });
});
t.teardown(() => cluster.teardown());


interface Followed {
  events: Event__Output[];
  status: Promise<grpc.StatusObject>;
  stream: grpc.ClientReadableStream<{ event: Event__Output | null }>;
}

function follow(c: ChatClient, user: string, cursor?: Record<string, number>): Followed {
  const stream = c.Subscribe({ user, ...(cursor ? { cursor: { seqs: cursor } } : {}) });
  const events: Event__Output[] = [];
  stream.on('data', (item) => item.event && events.push(item.event));
  stream.on('error', () => undefined);
  const status = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
  return { events, status, stream };
}

async function refusal(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('expected the call to be refused');
}

t.test('a user following the most rooms allowed must leave one before joining another', async (t) => {
  const c = ownConnection(t, cluster.address());
  const rooms = Array.from({ length: MAX_FOLLOWS + 1 }, (_, i) => `star${i}`);
  for (const u of ['fan', ...rooms]) await call(c, 'Connect', { user: u });
  for (const r of rooms.slice(0, MAX_FOLLOWS)) await call(c, 'Join', { user: 'fan', room: r });
  const err = await refusal(call(c, 'Join', { user: 'fan', room: rooms[MAX_FOLLOWS] }));
  t.equal(err.code, grpc.status.RESOURCE_EXHAUSTED);
  t.equal(err.details, `you follow ${MAX_FOLLOWS} rooms, the most allowed; leave one first`);
  await call(c, 'Leave', { user: 'fan', room: rooms[0] });
  await call(c, 'Join', { user: 'fan', room: rooms[MAX_FOLLOWS] });
  t.same((await call(c, 'Connect', { user: 'fan' })).following, ['fan', ...rooms.slice(1)], 'the join after the leave went through');
});

t.test('a user with the most chat streams open gets no more until one closes', async (t) => {
  const c = ownConnection(t, cluster.address());
  await call(c, 'Connect', { user: 'binger' });
  const open = Array.from({ length: MAX_STREAMS_PER_USER }, () => follow(c, 'binger'));
  // Registered once they carry the user's own post.
  const ack = await call(c, 'Post', { user: 'binger', id: 'registered', text: 'are you there' });
  await waitFor('the streams to carry the post', () => open.every((f) => f.events.some((e) => e.id === ack.event.id)));
  const extra = follow(c, 'binger');
  const st = await extra.status;
  t.equal(st.code, grpc.status.RESOURCE_EXHAUSTED);
  t.equal(st.details, `binger has ${MAX_STREAMS_PER_USER} chat streams open here, the most allowed; close one first`);
  open[0].stream.cancel();
  await open[0].status;
  const again = await waitFor('a stream to be taken after one closed', async () => {
    const f = follow(c, 'binger');
    const a = await call(c, 'Post', { user: 'binger', id: `again-${Date.now()}`, text: 'and now' });
    const got = await Promise.race([waitFor('the post on the new stream', () => f.events.some((e) => e.id === a.event.id), 5000).then(() => true), f.status.then(() => false)]);
    if (!got) return null;
    return f;
  });
  t.ok(again, 'a new stream carries posts once one closed');
  again.stream.cancel();
  open[1].stream.cancel();
});

t.test('a connection with the most calls in flight gets the next one when one ends', async (t) => {
  const c = ownConnection(t, cluster.address());
  const users = Array.from({ length: MAX_STREAMS_PER_CONNECTION }, (_, i) => `lurker${i}`);
  for (const u of users) await call(c, 'Connect', { user: u });
  const open = users.map((u) => follow(c, u));
  const acks = await Promise.all(users.map((u) => call(ownConnection(t, cluster.address()), 'Post', { user: u, id: 'hello', text: 'hello' })));
  await waitFor('every stream to carry its post', () => open.every((f, i) => f.events.some((e) => e.id === acks[i].event.id)));
  let answered = false;
  const next = call(c, 'Timeline', { user: users[0] }).then((r) => ((answered = true), r));
  // The same call on another connection is answered: if this one were going to be, it would be by then.
  await call(ownConnection(t, cluster.address()), 'Timeline', { user: users[0] });
  await call(ownConnection(t, cluster.address()), 'Timeline', { user: users[0] });
  t.equal(answered, false, 'the call past the cap waits');
  open[0].stream.cancel();
  await next;
  t.equal(answered, true, 'and is answered once a stream ends');
  for (const f of open) f.stream.cancel();
});

t.test('a reader more than the backlog cap behind is cut off, and resumes from its cursor missing nothing', async (t) => {
  const c = ownConnection(t, cluster.address());
  await call(c, 'Connect', { user: 'slowpoke' });
  await call(c, 'Connect', { user: 'firehose' });
  await call(c, 'Join', { user: 'slowpoke', room: 'firehose' });
  const start = await call(c, 'Timeline', { user: 'slowpoke' });
  const reader = follow(ownConnection(t, cluster.address()), 'slowpoke', start.cursor.seqs);
  reader.stream.pause(); // reads nothing: HTTP/2 flow control holds the rest on the server
  const text = 'x'.repeat(1000);
  const posts = Math.ceil((4 * MAX_BACKLOG_BYTES) / text.length);
  const writer = ownConnection(t, cluster.address());
  const acked: string[] = [];
  for (let i = 0; i < posts; i++) acked.push((await call(writer, 'Post', { user: 'firehose', id: `flood-${i}`, text })).event.id);
  reader.stream.resume();
  const st = await reader.status;
  t.equal(st.code, grpc.status.RESOURCE_EXHAUSTED, 'cut off');
  t.equal(st.details, 'reader too slow; resume from your cursor');
  t.ok(reader.events.length < posts, `${reader.events.length} of ${posts} posts came before the cut`);
  const cursor = new StreamCursor(start.cursor.seqs);
  for (const e of reader.events) cursor.fromStream(e);
  const resumed = follow(ownConnection(t, cluster.address()), 'slowpoke', cursor.toRecord());
  await waitFor('the rest after resuming', () => reader.events.length + resumed.events.length >= posts);
  t.same([...reader.events, ...resumed.events].map((e) => e.id), acked, 'every post once, in order');
  resumed.stream.cancel();
});
