/**
 * The serving side of replication: a peer's Pull gets everything this machine
 * has that the peer's vector does not cover, then every event as it is applied
 * here (from local writers or from a third machine: replication is transitive).
 * The backlog is read from disk in pages (Journal.page, bounded by the vector at
 * subscription) while live events queue behind it; batches go out only as fast as
 * the peer takes them (write() false: wait for 'drain'), so a catch-up of any size
 * holds one page, not the history.
 */
import type * as grpc from '@grpc/grpc-js';
import type { ChatEvent } from '../core/event';
import { covers, vectorFromRecord } from '../core/version-vector';
import type { Logger } from '../common/log';
import type { EventBatch } from '../gen/ftchat/EventBatch';
import type { PullRequest__Output } from '../gen/ftchat/PullRequest';
import type { ReplicationHandlers } from '../gen/ftchat/Replication';
import type { ShipLog } from './ship-log';
import type { Journal } from '../storage/journal';
import { machineOfOrigin } from '../storage/incarnation';

/** A batch holds at most this many events, and about this many bytes. */
const BATCH_EVENTS = 500;
const BATCH_BYTES = 1 << 20;
/** Once this many sent events sit at the head of a stream's queue, drop them. */
const COMPACT_AFTER = 10_000;

type PullCall = grpc.ServerWritableStream<PullRequest__Output, EventBatch>;

export function createReplicationService(journal: Journal, ship: ShipLog, log: Logger): ReplicationHandlers {
  return {
    Pull: (call: PullCall) => {
      const from = call.request.from;
      let cursor = vectorFromRecord(call.request.vector?.seqs);
      const had = new Map(cursor); // what the peer said it holds
      // Backlog bound and subscription in one tick: nothing applied in between is missed.
      const upTo = journal.index.vector();
      let backlogLeft = countAfter(cursor, upTo);
      let backlogDone = backlogLeft === 0;
      let queue: ChatEvent[] = [];
      let head = 0;
      let announced = false; // the first batch goes out even when empty: it says "caught up"
      let closed = false;
      let pumping = false;
      let scheduled = false;
      let wake: (() => void) | null = null;

      const pump = async (): Promise<void> => {
        if (pumping) return;
        pumping = true;
        while (!closed && (head < queue.length || !announced || !backlogDone)) {
          let events: ChatEvent[];
          if (!backlogDone) {
            const page = journal.page(cursor, () => true, BATCH_EVENTS, upTo);
            cursor = page.cursor;
            backlogDone = page.done;
            events = page.events;
            backlogLeft = Math.max(0, backlogLeft - events.length);
            await new Promise((resolve) => setImmediate(resolve)); // a page at a time: keep answering pings
          } else {
            const end = batchEnd(queue, head);
            events = queue.slice(head, end);
            head = end;
          }
          announced = true;
          const ok = call.write({ events, backlog: backlogDone ? 0 : backlogLeft, live: backlogDone, sent_at_ms: Date.now() });
          if (head >= COMPACT_AFTER) {
            queue = queue.slice(head);
            head = 0;
          }
          if (!ok) await new Promise<void>((resolve) => (wake = resolve));
        }
        pumping = false;
      };
      // Events applied in one go (one group commit) leave as one batch.
      const schedule = (): void => {
        if (scheduled) return;
        scheduled = true;
        queueMicrotask(() => {
          scheduled = false;
          void pump();
        });
      };

      const unsubscribe = ship.subscribe((events) => {
        // The puller wrote its own machine's events first, and said what else it holds
        // (a machine catching up from one peer would get it all again from the other): not sent back live.
        for (const e of events) if (machineOfOrigin(e.origin) !== from && !covers(had, e.origin, e.seq)) queue.push(e);
        schedule();
      });
      const resume = (): void => {
        const w = wake;
        wake = null;
        w?.();
      };
      const close = (): void => {
        if (closed) return;
        closed = true;
        unsubscribe();
        resume();
        log.info('peer stopped pulling', { peer: from });
      };
      call.on('drain', resume);
      call.on('cancelled', close);
      call.on('close', close);
      call.on('error', close);
      log.info('peer pulling', { peer: from, backlog: backlogLeft });
      void pump();
    },
  };
}


/** Events in `upTo` not covered by `cursor`. */
function countAfter(cursor: Map<string, number>, upTo: Map<string, number>): number {
  let n = 0;
  for (const [origin, seq] of upTo) n += Math.max(0, seq - (cursor.get(origin) ?? 0));
  return n;
}

function batchEnd(queue: ChatEvent[], head: number): number {
  let end = head;
  let bytes = 0;
  while (end < queue.length && end - head < BATCH_EVENTS && bytes < BATCH_BYTES) {
    bytes += 200 + queue[end].text.length * 3; // a generous estimate of its encoded size
    end++;
  }
  return end;
}
