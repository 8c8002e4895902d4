/**
 * Who is shown an event is one rule (lib/core/audience) for live streams, resumed
 * streams and Poll: a user who leaves a room (in a session on another machine)
 * while their stream is live, and whose stream then resumes from an old cursor, is
 * shown exactly what the live stream showed: the room's posts up to the leave, the
 * leave, nothing of the room after it. Every machine resumes it alike.
 */
import t from 'tap';
import type { Event__Output } from '../../lib/gen/ftchat/Event';
import type { ChatClient } from '../../lib/gen/ftchat/Chat';
import { call, ownConnection, RAISED_QUOTAS, startCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';

t.test('a live stream and streams resumed later on either machine deliver the same events', async (t) => {
  const cluster = await startCluster({ machines: ['m1', 'm2'], workers: 1, guardians: 1, quotas: RAISED_QUOTAS });
  t.teardown(() => cluster.teardown());
  const m1 = ownConnection(t, cluster.address('m1'));
  const m2 = ownConnection(t, cluster.address('m2'));
  for (const user of ['alice', 'bob', 'carol']) await call(m1, 'Connect', { user });
  await call(m1, 'Join', { user: 'alice', room: 'bob' });
  const { cursor } = await call(m1, 'Timeline', { user: 'alice' });

  const streams: { stream: ReturnType<ChatClient['Subscribe']>; seen: Event__Output[] }[] = [];
  const subscribe = (c: ChatClient): Event__Output[] => {
    const seen: Event__Output[] = [];
    const stream = c.Subscribe({ user: 'alice', cursor });
    stream.on('data', (item: { event: Event__Output | null }) => item.event && seen.push(item.event));
    stream.on('error', () => undefined); // cancelled at the end
    streams.push({ stream, seen });
    return seen;
  };
  t.teardown(() => streams.forEach((s) => s.stream.cancel()));
  const ids = (events: Event__Output[]): string[] => events.map((e) => e.id);
  const has = (events: Event__Output[], id: string) => (): boolean => events.some((e) => e.id === id);

  const live = subscribe(m1);
  await call(m1, 'Post', { user: 'bob', id: 'p1', text: 'while alice follows' });
  const p2 = (await call(m1, 'Post', { user: 'bob', id: 'p2', text: 'still following' })).event;
  await waitFor('the live stream shows both posts', has(live, p2.id));

  // alice leaves bob in a session on m2 (m1 refuses it while she is in chat mode there), after what she saw.
  await waitFor('m2 knows alice follows bob', async () => (await call(m2, 'Connect', { user: 'alice' })).following.includes('bob'));
  const leave = (await call(m2, 'Leave', { user: 'alice', room: 'bob', after: p2.hlc })).event;
  await waitFor('the live stream shows the leave', has(live, leave.id));
  await call(m1, 'Post', { user: 'bob', id: 'p3', text: 'after alice left' });
  await call(m1, 'Join', { user: 'carol', room: 'bob' });
  const end = (await call(m1, 'Post', { user: 'alice', id: 'end', text: 'the end' })).event;
  await waitFor('the live stream reaches the end', has(live, end.id)); // what it would show of bob's room came before

  t.same(ids(live), ['post/bob/p1', 'post/bob/p2', leave.id, 'post/alice/end'], 'live: the posts while following, the leave, own room');
  const resumed = subscribe(m1);
  await waitFor('the stream resumed on m1 reaches the end', has(resumed, end.id));
  t.same(ids(resumed), ids(live), 'resumed on m1 from the same cursor: the same events');
  await waitFor('m2 has the end', async () => (await call(m2, 'Timeline', { user: 'alice' })).events.some((e: Event__Output) => e.id === end.id));
  const elsewhere = subscribe(m2);
  await waitFor('the stream resumed on m2 reaches the end', has(elsewhere, end.id));
  t.same(ids(elsewhere), ids(live), 'resumed on m2: the same events');
  t.same(ids((await call(m1, 'Poll', { user: 'alice', cursor })).events), ids(live), 'Poll from the cursor: the same events');
});
