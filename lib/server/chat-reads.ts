/** The Chat calls that read without a stream: List (rooms), Timeline (last posts) and Poll (a page after a cursor). */
import * as grpc from '@grpc/grpc-js';
import { isShown } from '../core/audience';
import { nameHash } from '../core/index-record';
import { listPage, pageSize } from '../core/room-directory';
import { vectorFromRecord, vectorToRecord, type VersionVector } from '../core/version-vector';
import type { Page } from '../storage/journal';
import type { ChatHandlers } from '../gen/ftchat/Chat';
import type { ChatContext } from './chat-context';
import { authorize } from './chat-sessions';
import { Refusal, unary } from './refusal';

export function readHandlers(ctx: ChatContext): Pick<ChatHandlers, 'List' | 'Timeline' | 'Poll'> {
  const { opts, journal, index } = ctx;
  return {
    List: unary(opts.log, async (req, call) => {
      const me = await authorize(ctx, call);
      const page = listPage(index.rooms, index.graph.following(me), req.prefix, req.page_token, pageSize(req.limit, opts.limits.maxMessageBytes));
      if (!page) throw new Refusal(grpc.status.INVALID_ARGUMENT, 'bad page token');
      const room = (following: boolean) => (name: string) => ({ name, following, own: name === me });
      return { rooms: [...page.following.map(room(true)), ...page.others.map(room(false))], next_page_token: page.next };
    }),
    Timeline: unary(opts.log, async (req, call) => {
      const me = await authorize(ctx, call);
      const limit = Math.min(req.limit || opts.limits.historySize, 1000);
      return { events: journal.reads.lastPosts(index.graph.following(me), limit), cursor: { seqs: vectorToRecord(opts.retired().compact(index.seqs.vector())) } };
    }),
    Poll: unary(opts.log, async (req, call) => {
      const me = await authorize(ctx, call);
      const retired = opts.retired();
      const cursor = retired.expand(vectorFromRecord(req.cursor?.seqs));
      const page = pageFor(ctx, me, cursor, Math.min(req.max || 1000, 1000));
      return { events: page.events, cursor: { seqs: vectorToRecord(retired.compact(page.cursor)) } };
    }),
  };
}

/** A page of what `u` is shown after `cursor` (see audience). */
export function pageFor({ journal, index }: ChatContext, u: string, cursor: VersionVector, max: number, upTo?: VersionVector): Page {
  const memberships = index.graph.memberships(u);
  const own = nameHash(u);
  return journal.reads.page(
    cursor,
    (r, origin) => isShown(u, { kind: r.kind, room: r.room, hlc: { wall: r.wall, logical: r.logical }, origin }, r.authorHash === own, memberships.get(r.room)),
    max,
    upTo,
    (e) => isShown(u, e, e.author === u, memberships.get(e.room)) && journal.reads.counts(e), // the hash may collide
  );
}
