/**
 * Subscribe: chat mode. A stream first gets the backlog after its cursor, read from
 * disk a page at a time, then the live events (see chat-streams), with nothing
 * missed or sent twice between the two.
 */
import * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../common/log';
import { vectorFromRecord, type VersionVector } from '../core/version-vector';
import type { SubscribeItem } from '../gen/ftchat/SubscribeItem';
import type { ChatContext } from './chat-context';
import { pageFor } from './chat-reads';
import { authorizeSession } from './chat-sessions';
import { encodeItem, type Stream } from './chat-streams';
import { refuse, Refusal } from './refusal';

/** A resumed stream's backlog is read from disk this many events at a time. */
const BACKLOG_PAGE = 500;

export function subscribeHandler(ctx: ChatContext): (call: Stream) => Promise<void> {
  const { opts, index, streams } = ctx;
  return async (call) => {
    let me: string;
    let expiresAtMs: number;
    try {
      ({ user: me, expiresAtMs } = await authorizeSession(ctx, call));
      if (streams.count(me) >= opts.limits.maxStreamsPerUser) {
        throw new Refusal(grpc.status.RESOURCE_EXHAUSTED, `${me} has ${opts.limits.maxStreamsPerUser} chat streams open here, the most allowed; close one first`);
      }
    } catch (err) {
      refuse(call, err as Refusal);
      return;
    }
    // Registered first, with live events held back while the backlog up to this
    // moment's vector is read from disk in pages: nothing is missed or sent twice.
    const cursor = call.request.cursor ? opts.retired().expand(vectorFromRecord(call.request.cursor.seqs)) : index.seqs.vector();
    const upTo = index.seqs.vector();
    const stream = streams.add(me, call);
    endAtExpiry(call, expiresAtMs);
    try {
      await sendBacklog(ctx, call, me, cursor, upTo, stream);
    } catch (err) {
      opts.log.error('stream backlog failed', { error: errorMessage(err) });
      refuse(call, new Refusal(grpc.status.UNAVAILABLE, 'could not read the backlog; resume from your cursor'));
      return;
    }
    streams.release(call, stream.open);
  };
}

/** A stream lives as long as its session: then the client proves its key again and resumes from its cursor. */
function endAtExpiry(call: Stream, expiresAtMs: number): void {
  const timer = setTimeout(() => refuse(call, new Refusal(grpc.status.UNAUTHENTICATED, 'session expired: connect again')), Math.max(0, expiresAtMs - Date.now()));
  timer.unref();
  for (const ev of ['cancelled', 'close', 'error']) call.once(ev, () => clearTimeout(timer));
}

/** Writes what `me` is shown after `cursor` up to `upTo`, a page at a time, while the stream is open. */
async function sendBacklog(ctx: ChatContext, call: Stream, me: string, cursor: VersionVector, upTo: VersionVector, stream: { readonly open: boolean }): Promise<void> {
  for (;;) {
    const page = pageFor(ctx, me, cursor, BACKLOG_PAGE, upTo);
    cursor = page.cursor;
    let ok = true;
    for (const e of page.events) ok = call.write(encodeItem({ event: e }) as unknown as SubscribeItem) && ok;
    if (page.done || !stream.open) break;
    if (!ok) await writableOrGone(call);
    else await new Promise((resolve) => setImmediate(resolve)); // a page at a time: other calls go on meanwhile
  }
}

/** Resolves once the stream takes writes again or is gone; takes its listeners off (a long backlog waits many times). */
function writableOrGone(call: Stream): Promise<void> {
  const events = ['drain', 'close', 'cancelled'];
  return new Promise((resolve) => {
    const done = (): void => {
      for (const ev of events) call.off(ev, done);
      resolve();
    };
    for (const ev of events) call.on(ev, done);
  });
}
