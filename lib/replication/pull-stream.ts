/**
 * One peer's Pull, on the serving side: the backlog its vector lacks (BacklogPages),
 * then every event as it is applied here (from local writers or from a third
 * machine: replication is transitive), queued behind the backlog. Batches go out only
 * as fast as the peer takes them (write() false: wait for 'drain').
 */
import type * as grpc from '@grpc/grpc-js';
import type { ChatEvent } from '../core/event';
import { advance, covers, vectorFromRecord, type VersionVector } from '../core/version-vector';
import { machineOfOrigin } from '../core/origins';
import type { Logger } from '../common/log';
import type { EventBatch } from '../gen/ftchat/EventBatch';
import type { PullRequest__Output } from '../gen/ftchat/PullRequest';
import type { Journal } from '../storage/journal';
import type { ShipLog } from './ship-log';
import type { RetirementBook } from './retirement-book';
import { BacklogPages, type BacklogPage } from './backlog-pages';
import { WritePump } from './write-pump';

export type PullCall = grpc.ServerWritableStream<PullRequest__Output, EventBatch>;

/** A live batch holds at most this many events, and about this many bytes. */
const BATCH_EVENTS = 500;
const BATCH_BYTES = 1 << 20;
/** Once this many sent events sit at the head of the live queue, drop them. */
const COMPACT_AFTER = 10_000;

/** Events applied here after the Pull began, waiting to be sent. */
class LiveQueue {
  private queue: ChatEvent[] = [];
  private head = 0;

  get empty(): boolean {
    return this.head >= this.queue.length;
  }

  push(e: ChatEvent): void {
    this.queue.push(e);
  }

  /** The next batch: at most BATCH_EVENTS, about BATCH_BYTES. */
  take(): ChatEvent[] {
    let end = this.head;
    let bytes = 0;
    while (end < this.queue.length && end - this.head < BATCH_EVENTS && bytes < BATCH_BYTES) {
      bytes += 200 + this.queue[end].text.length * 3; // a generous estimate of its encoded size
      end++;
    }
    const events = this.queue.slice(this.head, end);
    this.head = end;
    if (this.head >= COMPACT_AFTER) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return events;
  }
}

export class PullStream {
  readonly from: string;
  /** What the peer said it holds. */
  private readonly had: VersionVector;
  /** What the peer holds or was sent: `had`, then each batch written. */
  readonly sent: VersionVector;
  private readonly backlog: BacklogPages;
  private readonly live = new LiveQueue();
  /** The first batch goes out even when empty: it says "caught up". */
  private announced = false;
  /** The retirements' version last sent (-1: none yet): the table goes out again when it moved. */
  private retiredSent = -1;
  private closed = false;
  private readonly pump = new WritePump((park) => this.writeAll(park));
  private stops: (() => void)[] = [];

  constructor(journal: Journal, private readonly book: RetirementBook, private readonly log: Logger, private readonly call: PullCall, private readonly onClose: (s: PullStream) => void) {
    this.from = call.request.from;
    this.had = book.table.expand(vectorFromRecord(call.request.vector?.seqs));
    this.sent = new Map(this.had);
    this.backlog = new BacklogPages(journal, this.had, call.request.lines === true);
  }

  /** Subscribes to live events in the tick the backlog was bounded in: nothing applied in between is missed. */
  start(ship: ShipLog): void {
    const unsubscribe = ship.subscribe((events) => {
      // The puller wrote its own machine's events first, and said what else it holds
      // (a machine catching up from one peer would get it all again from the other): not sent back live.
      for (const e of events) if (machineOfOrigin(e.origin) !== this.from && !covers(this.had, e.origin, e.seq)) this.live.push(e);
      this.pump.schedule();
    });
    this.stops = [unsubscribe, this.book.onChange(() => this.pump.schedule())];
    const close = (): void => this.close();
    this.call.on('drain', () => this.pump.resume());
    this.call.on('cancelled', close);
    this.call.on('close', close);
    this.call.on('error', close);
    this.log.info('peer pulling', { peer: this.from, backlog: this.backlog.remaining });
    void this.pump.run();
  }

  /** We are stopping: end the stream cleanly (the peer then expects us to refuse for a while). */
  end(): void {
    if (this.closed) return;
    this.close();
    this.call.end();
  }

  /** Writes batches until there is nothing to write: the backlog's pages, then live events. */
  private async writeAll(park: () => Promise<void>): Promise<void> {
    while (!this.closed && (!this.live.empty || !this.announced || !this.backlog.done || this.retiredSent !== this.book.version)) {
      const catchingUp = !this.backlog.done;
      const page: BacklogPage = catchingUp ? await this.backlog.next() : { events: this.live.take(), lines: [] };
      this.announced = true;
      const retired = this.retiredSent === this.book.version ? [] : this.book.table.all();
      this.retiredSent = this.book.version;
      const ok = this.call.write({ events: page.events, lines: page.lines, backlog: this.backlog.remaining, live: this.backlog.done, sent_at_ms: Date.now(), retired });
      if (catchingUp) for (const [origin, seq] of this.backlog.position) advance(this.sent, origin, seq);
      else for (const e of page.events) advance(this.sent, e.origin, e.seq);
      if (!ok) await park();
    }
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
    for (const stop of this.stops) stop();
    this.pump.resume();
    this.log.info('peer stopped pulling', { peer: this.from });
  }
}
