/**
 * One Pull stream of a peer link, from its call to its end: the batches received
 * and not yet stored, appended in order by one drain at a time. Batches that arrive
 * while an append runs are appended together by the next one: at a steady trickle the
 * sender ships one tiny batch per commit, and one commit (lock + fsyncs) per tiny
 * batch let a queue build behind any slow fsync. While too much waits, the stream is
 * paused: that is the back-pressure to the sender.
 */
import type * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../common/log';
import type { EventBatch__Output } from '../gen/ftchat/EventBatch';
import type { CatchUp, IntakeStream, PeerIntake } from './peer-intake';

/** Received but not yet appended, beyond which the stream is paused. */
const MAX_PENDING_EVENTS = 10_000;
/** A batch may hold at most this many events: five times the largest page a release sends (backlog-pages.ts). */
export const MAX_BATCH_EVENTS = 10_000;
/** Events appended in one commit, at most (a batch is never split). */
const MAX_MERGED_EVENTS = 2_000;

/** What the link hears from its stream's drain. */
export interface DrainEnds {
  /** A live batch was stored: the stream's catch-up is done. */
  live(s: LinkStream): void;
  /** A batch could not be stored: the stream must end. */
  failed(s: LinkStream, why: string): void;
}

/** A batch's events, of either form. */
export function sizeOf(batch: EventBatch__Output): number {
  return batch.events.length + batch.lines.length;
}

export class LinkStream implements IntakeStream {
  readonly startedAt = Date.now();
  /** The stream stored news (it resets the link's back-off). */
  news = false;
  readonly blocked = new Set<string>();
  heldBack = false;
  done = false;
  catchUp: CatchUp | null = null;
  private pending: EventBatch__Output[] = [];
  private pendingEvents = 0;
  /** An append runs. */
  private busy = false;

  constructor(readonly call: grpc.ClientReadableStream<EventBatch__Output>, private readonly intake: PeerIntake, private readonly ends: DrainEnds) {}

  /** Ends the stream here (the link decides what comes next). */
  cancel(): void {
    this.done = true;
    this.call.cancel();
  }

  /** Queues a batch for the drain. */
  push(batch: EventBatch__Output): void {
    this.pending.push(batch);
    this.pendingEvents += sizeOf(batch);
    if (this.pendingEvents >= MAX_PENDING_EVENTS) this.call.pause();
    if (!this.busy) void this.drain();
  }

  /** Appends the pending batches, merged up to MAX_MERGED_EVENTS per commit, until none are left. */
  private async drain(): Promise<void> {
    this.busy = true;
    while (this.pending.length > 0 && !this.done) {
      const merged = this.takeMerged();
      if (this.pendingEvents < MAX_PENDING_EVENTS) this.call.resume();
      try {
        if ((await this.intake.store(merged, this)) > 0) this.news = true;
        if (merged.live) this.ends.live(this);
      } catch (err) {
        this.ends.failed(this, errorMessage(err));
      }
    }
    this.busy = false;
  }

  /**
   * Takes the next pending batches off the queue, as one batch (the last one's fields,
   * all their events and lines). At most MAX_MERGED_EVENTS (but at least one batch):
   * one commit of a whole catch-up's worth of rooms holds the lock too long. Batches of
   * lines and of events are not merged: a batch's events are checked before its lines,
   * and each origin's seqs must come in order.
   */
  private takeMerged(): EventBatch__Output {
    const form = (b: EventBatch__Output): boolean => b.lines.length > 0;
    let take = 0;
    for (let n = 0; take < this.pending.length && (take === 0 || (n + sizeOf(this.pending[take]) <= MAX_MERGED_EVENTS && form(this.pending[take]) === form(this.pending[0]))); take++) n += sizeOf(this.pending[take]);
    const batches = this.pending.slice(0, take);
    this.pending = this.pending.slice(take);
    this.pendingEvents = this.pending.reduce((n, b) => n + sizeOf(b), 0);
    const last = batches[batches.length - 1];
    if (batches.length === 1) return last;
    return { ...last, events: batches.flatMap((b) => b.events), lines: batches.flatMap((b) => b.lines) };
  }
}
