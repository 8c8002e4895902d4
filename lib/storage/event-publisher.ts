/**
 * The last step of the commit path, and of every read of another writer's lines:
 * a stored event's origin-index record is written, the event index takes it, and
 * what that makes visible goes into the clock, the room tails and the listeners
 * (journal-listeners.ts). During the load the index takes events in bulk and
 * nobody listens yet.
 */
import type { ChatEvent } from '../core/event';
import type { EventIndex } from '../core/event-index';
import type { HybridClock } from '../core/hlc';
import type { IndexRecord } from '../core/index-record';
import type { RoomTails } from '../core/room-tails';
import { indexRecordOf, type Stored } from '../core/commit-plan';
import type { OriginIndex } from './origin-index';
import type { JournalListeners } from './journal-listeners';
import type { Commit } from './group-commit';

export class EventPublisher {
  /**
   * True from construction until the load ends (a builder never loads): the load
   * reads the rooms itself, and the index takes what it reads in bulk.
   */
  private loadingNow = true;
  private sinceCheckpoint = 0;

  constructor(
    private readonly index: EventIndex,
    private readonly tails: RoomTails,
    private readonly origins: OriginIndex,
    private readonly clock: HybridClock,
    private readonly listeners: JournalListeners,
  ) {}

  get loading(): boolean {
    return this.loadingNow;
  }

  /** The load is over: from now on each event is offered to the index, and what it applies is shown. */
  loaded(): void {
    this.loadingNow = false;
  }

  /** Events taken since the last checkpoint this process wrote or loaded. */
  get uncheckpointed(): number {
    return this.sinceCheckpoint;
  }

  /** A checkpoint covers the first `covered` of them. */
  checkpointed(covered: number): void {
    this.sinceCheckpoint -= covered;
  }

  /**
   * Events read from or written to the room files: their origin-index records
   * (flushed, unless the caller flushes after more), and into the index.
   */
  publishStored(stored: Stored[], flush = true): void {
    for (const s of stored) this.publishOne(s);
    if (flush) this.origins.flush();
  }

  private publishOne(stored: Stored): void {
    const { event: e, length } = stored;
    this.origins.write(e.origin, e.seq, indexRecordOf(stored));
    this.sinceCheckpoint++;
    if (!this.loadingNow) return this.publishEvent(e, length);
    if (this.index.takeInBulk(e, length)) this.clock.observe(e.hlc);
  }

  /** An event another writer stored, learned from its index record (which that writer wrote) and its line (`bytes` long). */
  publishLearned(e: ChatEvent, bytes: number): void {
    this.sinceCheckpoint++;
    this.publishEvent(e, bytes);
  }

  /**
   * A post another writer stored whose line nobody here needs (see postsWanted),
   * learned from its index record alone. False if it is not its origin's next seq
   * (read the files instead).
   */
  publishUnread(origin: string, seq: number, rec: IndexRecord): boolean {
    this.sinceCheckpoint++;
    const unblocked = this.index.offerUnreadPost(origin, seq, rec.room, rec.length); // a post's author is its room
    if (unblocked === null) return false;
    this.clock.observe({ wall: rec.wall, logical: rec.logical });
    this.show(unblocked);
    return true;
  }

  /** Whether a post to `room` another writer stored must be read: its tail is cached, or a listener wants it. */
  postsWanted(room: string): boolean {
    return this.tails.cached(room) || this.listeners.wantPostsOf(room);
  }

  /** This writer committed: the machine's other readers hear of it (the doorbell). */
  committed(c: Commit): void {
    this.listeners.committed(c);
  }

  /** An event (its line `bytes` long) offered to the index: what that applies is shown, and every-event listeners hear it. */
  private publishEvent(e: ChatEvent, bytes: number): void {
    this.show(this.index.offer(e, bytes));
    this.listeners.every(e);
  }

  /** Events the index just applied: into the clock, the room tails and the stream listeners (a retried post's copy is not shown). */
  private show(applied: ChatEvent[]): void {
    for (const e of applied) {
      this.clock.observe(e.hlc);
      if (e.kind === 'post' && !this.tails.addPost(e)) continue;
      this.listeners.applied(e);
    }
  }
}
