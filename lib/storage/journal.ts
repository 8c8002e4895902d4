/**
 * One writer's view of a machine's data: the event index kept in step with the
 * room files, one module per step. Its own commits (group-commit.ts, writing
 * through commit-writer.ts), the other writers' doorbells (doorbell-reader.ts) and
 * the load (state-loader.ts) all hand what they stored or read to the publish step
 * (event-publisher.ts); checkpoints (checkpointer.ts) and reads (event-reads.ts)
 * work from what it holds. Who hears of what: journal-listeners.ts.
 *
 * Memory holds the index (vector, rooms, follow graph) and the tails of the rooms
 * in use; events are read from the room files through the origin index, in pages.
 * A start reads the machine's checkpoint and then only the rooms the write-ahead log
 * names after the checkpoint's log position (every room file if the log cannot tell).
 */
import type { ChatEvent } from '../core/event';
import { EventIndex, type Proved } from '../core/event-index';
import { NameNumbers } from '../core/name-numbers';
import { counts } from '../core/room-key';
import { HybridClock } from '../core/hlc';
import { RoomTails } from '../core/room-tails';
import { ROOM_CACHE_DEFAULTS } from '../common/config';
import type { Logger } from '../common/log';
import { OriginIndex } from './origin-index';
import type { RoomFiles } from './room-files';
import { GroupCommit, type AppendResult, type Draft } from './group-commit';
import { JournalListeners } from './journal-listeners';
import { DoorbellReader, type Ring } from './doorbell-reader';
import { EventPublisher } from './event-publisher';
import { EventReads } from './event-reads';
import { Checkpointer } from './checkpointer';
import { StateLoader, type LoadReport } from './state-loader';
import { StoredDrafts } from './stored-drafts';

export { StorageError, type AppendResult, type Commit, type Draft } from './group-commit';
export { IndexDropped, type Page } from './event-reads';
export type { LoadReport } from './state-loader';

export interface JournalOptions {
  /** Rooms whose recent posts are kept in memory (LRU). */
  cachedRooms: number;
  /** Posts kept per cached room: the most a Timeline can return. */
  tailPosts: number;
  /** A start that had to scan at least this many events writes a checkpoint. */
  checkpointEvery: number;
  /**
   * Builds the machine's first checkpoint (and index) in a one-shot process, whose
   * memory goes when it exits (a scan of the whole history peaks far above what a
   * loaded process keeps), while this one waits and keeps answering its primary.
   * Resolves when that process is gone; without it, or if it left no checkpoint,
   * the build runs here.
   */
  buildElsewhere?: () => Promise<void>;
  /** Whether a create carries a valid proof that a majority settled its name (room-keys.ts: provedBy); default none. */
  proved?: Proved;
}

export const DEFAULT_JOURNAL_OPTIONS: JournalOptions = { ...ROOM_CACHE_DEFAULTS, checkpointEvery: 50_000 };

export class Journal {
  /** The machine's events as this process knows them; a load restores it in place. */
  readonly index: EventIndex;
  /** Who hears of the events that become visible here, of this writer's commits, and of every event (see JournalListeners). */
  readonly listeners = new JournalListeners();
  /** Pages of applied events, room tails, a room's creations. */
  readonly reads: EventReads;
  private readonly commits: GroupCommit;
  private readonly doorbells: DoorbellReader;
  private readonly checkpoints: Checkpointer;
  private readonly loader: StateLoader;

  constructor(
    files: RoomFiles,
    readonly origin: string,
    log: Logger,
    readonly clock = new HybridClock(),
    /** Called when the files and memory may disagree (fsync failed): the process must restart. */
    fatal: (err: Error) => never = (err) => {
      throw err;
    },
    opts: JournalOptions = DEFAULT_JOURNAL_OPTIONS,
  ) {
    const index = (this.index = new EventIndex(opts.proved));
    const origins = new OriginIndex(files.machineDir);
    files.offsets.restore(new NameNumbers(index.names)); // one name table for the index and the offsets
    // A room's tail read from its file holds only the posts that count.
    const countsHere = (e: ChatEvent): boolean => counts(e, (user) => index.keys.fingerprintOf(user));
    const tails = new RoomTails(opts.cachedRooms, opts.tailPosts, (room, keep) => files.reader.readRecentPosts(room, keep).filter(countsHere));
    const publisher = new EventPublisher(index, tails, origins, clock, this.listeners);
    this.reads = new EventReads(files.machineDir, index, tails, origins, files.reader, log, fatal);
    this.commits = new GroupCommit({ writer: files.writer, offsets: files.offsets, origin, clock, log, fatal, index, drafts: new StoredDrafts(index, tails, files.reader), publisher });
    this.doorbells = new DoorbellReader({ reader: files.reader, offsets: files.offsets, wal: files.wal.reader, origins, log, index, publisher, reads: this.reads });
    this.checkpoints = new Checkpointer(files, index, clock, origins, publisher, log);
    this.loader = new StateLoader(files, index, clock, publisher, this.checkpoints, log, { ...opts, origin });
  }

  /**
   * Loads the machine's state: its checkpoint, then whatever the room files hold
   * past it. One process at a time (the checkpoint lock): a machine's children
   * revived together on two cores each get the CPU in turn, so the first serves
   * after one load rather than all after three. Without a checkpoint (the first
   * start over a long history) the first process builds it, in a one-shot process
   * if it can, and the others then load that. Yields every 50 ms. Returns what it
   * read past the checkpoint, and why.
   */
  async load(): Promise<LoadReport> {
    const report = await this.loader.load();
    await this.doorbells.readDeferred();
    return report;
  }

  /**
   * Builds the machine's checkpoint and index from the room files alone; for a
   * one-shot builder process whose caller holds the checkpoint lock.
   */
  async build(): Promise<void> {
    await this.loader.build();
  }

  /** Stores an event durably; a draft whose id is already stored resolves to the stored event. */
  submit(draft: Draft): Promise<ChatEvent> {
    return this.commits.submit(draft);
  }

  /** Appends events stamped on other machines, with the lines a peer shipped for them (see GroupCommit.appendStamped). */
  appendStamped(events: ChatEvent[], shipped?: ReadonlyMap<ChatEvent, Buffer>): Promise<AppendResult> {
    return this.commits.appendStamped(events, shipped);
  }

  /** A doorbell: another writer of this machine committed (see DoorbellReader). */
  ring(ring: Ring): void {
    this.doorbells.ring(ring);
  }

  /** Reads what other writers appended to these rooms, and what of theirs it follows (see DoorbellReader.refresh). */
  async refresh(rooms: string[]): Promise<void> {
    await this.doorbells.refresh(rooms);
  }

  /**
   * Writes the machine's checkpoint from this process's state if at least
   * `minEvents` were applied here since the last one this process wrote or loaded,
   * unless a commit is in flight or another process holds the checkpoint lock (see
   * Checkpointer.writeIfIdle). Returns whether it wrote one.
   */
  async checkpoint(minEvents = 0): Promise<boolean> {
    return this.checkpoints.writeIfIdle(this.commits, this.doorbells, minEvents);
  }
}
