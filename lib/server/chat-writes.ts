/** The Chat calls that write an event: Join and Leave (follow and unfollow a room) and Post. */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { postEventId, type ChatEvent } from '../core/event';
import type { ChatHandlers } from '../gen/ftchat/Chat';
import type { FollowRequest__Output } from '../gen/ftchat/FollowRequest';
import type { ChatContext } from './chat-context';
import { authorizeSession, knownUser } from './chat-sessions';
import { Refusal, unary } from './refusal';
import { metrics } from '../common/metrics';

export function writeHandlers(ctx: ChatContext): Pick<ChatHandlers, 'Join' | 'Leave' | 'Post'> {
  const { opts, journal } = ctx;
  return {
    Join: unary(opts.log, async (_req, call) => ({ event: await follow(ctx, 'join', call) })),
    Leave: unary(opts.log, async (_req, call) => ({ event: await follow(ctx, 'leave', call) })),
    Post: unary(opts.log, async (req, call) => {
      const acked = metrics.postAck.startTimer();
      const { user: me, key } = await authorizeSession(ctx, call);
      const id = postEventId(me, req.id || randomUUID());
      withinStorage(ctx, me);
      await opts.quotas.post(me);
      causedAfter(ctx, req.after);
      const event = await journal.submit({ id, kind: 'post', room: me, author: me, text: req.text, key });
      acked();
      metrics.posts.inc();
      return { event };
    }),
  };
}

async function follow(ctx: ChatContext, kind: 'join' | 'leave', call: grpc.ServerUnaryCall<FollowRequest__Output, unknown>): Promise<ChatEvent> {
  const { opts, index } = ctx;
  const req = call.request;
  const { user: me, key } = await authorizeSession(ctx, call);
  const room = await knownUser(ctx, req.room);
  if (ctx.streams.inChatMode(me)) {
    throw new Refusal(grpc.status.FAILED_PRECONDITION, `cannot ${kind} rooms in chat mode; type 'exit' first`);
  }
  if (room === me) throw new Refusal(grpc.status.INVALID_ARGUMENT, 'you are always in your own room');
  const following = index.graph.isFollowing(me, room);
  if (kind === 'join' && following) throw new Refusal(grpc.status.ALREADY_EXISTS, `you already follow ${room}`);
  if (kind === 'leave' && !following) throw new Refusal(grpc.status.FAILED_PRECONDITION, `you do not follow ${room}`);
  const follows = index.graph.following(me).length - 1; // own room aside
  if (kind === 'join' && follows >= opts.limits.maxFollows) {
    throw new Refusal(grpc.status.RESOURCE_EXHAUSTED, `you follow ${follows} rooms, the most allowed; leave one first`);
  }
  withinStorage(ctx, me);
  await opts.quotas.post(me);
  causedAfter(ctx, req.after);
  return ctx.journal.submit({ id: `${kind}/${me}/${room}/${randomUUID()}`, kind, room, author: me, text: '', key });
}

/** A user who has stored its quota of bytes (quotas.storageBytesPerUser) writes nothing more. */
function withinStorage({ opts, index }: ChatContext, me: string): void {
  const quota = opts.quotas.storageBytesPerUser;
  if (index.authored.get(me) >= quota) {
    metrics.quotaRefusals.inc({ kind: 'storage' });
    throw new Refusal(grpc.status.RESOURCE_EXHAUSTED, `${me} has stored ${Math.floor(index.authored.get(me) / 1024)} KiB, the most a user may (${Math.floor(quota / 1024)} KiB); nothing more can be written`);
  }
}

/** Makes the next write sort after everything the client has seen (its bounds were checked). */
function causedAfter(ctx: ChatContext, h: { wall: number; logical: number } | null | undefined): void {
  if (h && h.wall) ctx.journal.clock.observe({ wall: Number(h.wall), logical: h.logical });
}
