/**
 * The serving side of replication: a peer's Pull gets everything this machine
 * has that the peer's vector does not cover, then every event as it is applied
 * here (from local writers or from a third machine: replication is transitive).
 * The backlog is read from disk in pages (EventReads.page, bounded by the vector at
 * subscription) while live events queue behind it; batches go out only as fast as
 * the peer takes them (write() false: wait for 'drain'), so a catch-up of any size
 * holds one page, not the history.
 */
import * as grpc from '@grpc/grpc-js';
import type { ChatEvent } from '../core/event';
import { covers, vectorFromRecord, type VersionVector } from '../core/version-vector';
import type { Logger } from '../common/log';
import type { EventBatch } from '../gen/ftchat/EventBatch';
import type { PullRequest__Output } from '../gen/ftchat/PullRequest';
import type { ReplicationHandlers } from '../gen/ftchat/Replication';
import type { ShipLog } from './ship-log';
import type { RetirementBook } from './retirement-book';
import type { Journal } from '../storage/journal';
import { machineOfOrigin } from '../core/origins';
import { claimError } from '../common/peer-identity';

/** A batch holds at most this many events, and about this many bytes. */
const BATCH_EVENTS = 500;
const BATCH_BYTES = 1 << 20;
/** Once this many sent events sit at the head of a stream's queue, drop them. */
const COMPACT_AFTER = 10_000;

type PullCall = grpc.ServerWritableStream<PullRequest__Output, EventBatch>;

/**
 * The Replication handlers: Pull (a puller's certificate must name the machine its
 * `from` claims, when `tls`) beside the name acceptor's calls; `endAll()` for a clean
 * stop (each peer hears the stream end, not a dropped connection); `lag()`: per peer
 * that has pulled, the events held here that were not yet sent to it (it grows while
 * the peer's link is down).
 */
export function createReplicationService(
  journal: Journal,
  ship: ShipLog,
  book: RetirementBook,
  log: Logger,
  tls: boolean,
  names: Pick<ReplicationHandlers, 'Vote' | 'VoteRecords'>,
): { handlers: ReplicationHandlers; endAll(): void; lag(): Record<string, number> } {
  const open = new Set<PullStream>();
  const sent = new Map<string, VersionVector>();
  return {
    handlers: {
      Pull: (call: PullCall) => {
        const refused = claimError(call.request.from, call, tls);
        if (!refused) return new PullStream(journal, book, log, call, open, sent).start(ship);
        log.warn('refused a peer claiming another machine', { method: 'Pull', claimed: call.request.from, peer: call.getPeer(), reason: refused });
        call.emit('error', { code: grpc.status.PERMISSION_DENIED, details: refused });
      },
      ...names,
    },
    endAll: () => open.forEach((s) => s.end()),
    lag: () => {
      const held = journal.index.seqs.vector();
      // The peer's own machine's events are never sent to it: they are not its lag.
      return Object.fromEntries([...sent].map(([peer, upTo]) => [peer, countAfter(upTo, held, (origin) => machineOfOrigin(origin) !== peer)]));
    },
  };
}

/** One peer's Pull: the backlog its vector lacks, read from disk a page at a time, then the live events queued behind it. */
class PullStream {
  private readonly from: string;
  private cursor: VersionVector;
  /** What the peer said it holds. */
  private readonly had: VersionVector;
  private readonly upTo: VersionVector;
  private backlogLeft: number;
  private backlogDone: boolean;
  private queue: ChatEvent[] = [];
  private head = 0;
  /** The first batch goes out even when empty: it says "caught up". */
  private announced = false;
  /** The retirements' version last sent (-1: none yet): the table goes out again when it moved. */
  private retiredSent = -1;
  private closed = false;
  private pumping = false;
  private scheduled = false;
  private wake: (() => void) | null = null;
  private unsubscribe: () => void = () => undefined;
  private unsubscribeBook: () => void = () => undefined;

  /** What the peer holds or was sent: `had`, then each batch written. */
  private readonly sent: VersionVector;

  constructor(private readonly journal: Journal, private readonly book: RetirementBook, private readonly log: Logger, private readonly call: PullCall, private readonly open: Set<PullStream>, sentTo: Map<string, VersionVector>) {
    this.from = call.request.from;
    this.cursor = book.table.expand(vectorFromRecord(call.request.vector?.seqs));
    this.had = new Map(this.cursor);
    this.sent = new Map(this.cursor);
    sentTo.set(this.from, this.sent);
    this.upTo = journal.index.seqs.vector();
    this.backlogLeft = countAfter(this.cursor, this.upTo);
    this.backlogDone = this.backlogLeft === 0;
  }

  /** Subscribes to live events in the tick the backlog was bounded in: nothing applied in between is missed. */
  start(ship: ShipLog): void {
    this.unsubscribe = ship.subscribe((events) => {
      // The puller wrote its own machine's events first, and said what else it holds
      // (a machine catching up from one peer would get it all again from the other): not sent back live.
      for (const e of events) if (machineOfOrigin(e.origin) !== this.from && !covers(this.had, e.origin, e.seq)) this.queue.push(e);
      this.schedule();
    });
    this.unsubscribeBook = this.book.onChange(() => this.schedule());
    this.open.add(this);
    const close = (): void => this.close();
    this.call.on('drain', () => this.resume());
    this.call.on('cancelled', close);
    this.call.on('close', close);
    this.call.on('error', close);
    this.log.info('peer pulling', { peer: this.from, backlog: this.backlogLeft });
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    while (!this.closed && (this.head < this.queue.length || !this.announced || !this.backlogDone || this.retiredSent !== this.book.version)) {
      const events = this.backlogDone ? this.liveBatch() : await this.backlogPage();
      this.announced = true;
      const retired = this.retiredSent === this.book.version ? [] : this.book.table.all();
      this.retiredSent = this.book.version;
      const ok = this.call.write({ events, backlog: this.backlogDone ? 0 : this.backlogLeft, live: this.backlogDone, sent_at_ms: Date.now(), retired });
      for (const e of events) if ((this.sent.get(e.origin) ?? 0) < e.seq) this.sent.set(e.origin, e.seq);
      if (this.head >= COMPACT_AFTER) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      if (!ok) await new Promise<void>((resolve) => (this.wake = resolve));
    }
    this.pumping = false;
  }

  private async backlogPage(): Promise<ChatEvent[]> {
    const page = this.journal.reads.page(this.cursor, () => true, BATCH_EVENTS, this.upTo);
    this.cursor = page.cursor;
    this.backlogDone = page.done;
    this.backlogLeft = Math.max(0, this.backlogLeft - page.events.length);
    await new Promise((resolve) => setImmediate(resolve)); // a page at a time: keep answering pings
    return page.events;
  }

  private liveBatch(): ChatEvent[] {
    const end = batchEnd(this.queue, this.head);
    const events = this.queue.slice(this.head, end);
    this.head = end;
    return events;
  }

  /** Events applied in one go (one group commit) leave as one batch. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      void this.pump();
    });
  }

  private resume(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** We are stopping: end the stream cleanly (the peer then expects us to refuse for a while). */
  end(): void {
    if (this.closed) return;
    this.close();
    this.call.end();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.open.delete(this);
    this.unsubscribe();
    this.unsubscribeBook();
    this.resume();
    this.log.info('peer stopped pulling', { peer: this.from });
  }
}

/** Events in `upTo` (of the origins `counted` accepts) not covered by `cursor`. */
function countAfter(cursor: Map<string, number>, upTo: Map<string, number>, counted: (origin: string) => boolean = () => true): number {
  let n = 0;
  for (const [origin, seq] of upTo) if (counted(origin)) n += Math.max(0, seq - (cursor.get(origin) ?? 0));
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
