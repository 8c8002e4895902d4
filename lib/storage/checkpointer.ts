/**
 * The machine's checkpoint as this process writes it: its index, clock and room
 * offsets, and the write-ahead log position they cover, so the next start reads
 * only the rooms the log names past it. Keeps that position (walCovered): one
 * before which every log record lies within this process's room offsets (offsets
 * only grow, so it stays true), where a checkpoint's walk for its own position starts.
 */
import type { EventIndex } from '../core/event-index';
import { snapshotIndex } from '../core/index-snapshot';
import type { HybridClock } from '../core/hlc';
import { isDiskFault } from '../core/disk-fault';
import type { WalPosition } from '../core/wal-position';
import type { Logger } from '../common/log';
import { writeCheckpoint } from './checkpoint-file';
import type { OriginIndex } from './origin-index';
import type { RoomFiles } from './room-files';
import type { EventPublisher } from './event-publisher';
import type { GroupCommit } from './group-commit';
import type { DoorbellReader } from './doorbell-reader';

export class Checkpointer {
  /** Null: unknown, so a checkpoint first reads every room file grown past our offsets. */
  private walCovered: WalPosition | null = null;

  constructor(
    private readonly files: RoomFiles,
    private readonly index: EventIndex,
    private readonly clock: HybridClock,
    private readonly origins: OriginIndex,
    private readonly publisher: EventPublisher,
    private readonly log: Logger,
  ) {}

  /**
   * Writes the machine's checkpoint from this process's state, unless a commit is
   * in flight (its lines may be past the offsets but not yet in the index), a load
   * runs, a hole is open (the next start must scan the lines stored past it again)
   * or another process holds the checkpoint lock, or fewer than `minEvents` were
   * taken since the last checkpoint this process wrote or loaded. Returns whether it wrote one.
   */
  async writeIfIdle(commits: GroupCommit, doorbells: DoorbellReader, minEvents: number): Promise<boolean> {
    if (this.publisher.uncheckpointed < minEvents || commits.busy || this.publisher.loading || this.index.seqs.hasStoredPastHoles()) return false;
    if (!this.knowsCoverage()) {
      // The log no longer reaches back to what we know we covered: pin its position now and read
      // every room file grown past our offsets (yielding), so the checkpoint can name a position.
      this.walCovered = await this.pinWal();
      await doorbells.readRooms(await this.files.reader.roomsGrown());
      if (commits.busy || this.publisher.loading) return false;
    }
    const wrote = await this.files.checkpointLock.runIfFree(async () => {
      if (commits.busy) return false;
      await this.write();
      return true;
    });
    return wrote?.result === true;
  }

  /** Every log record before `pos` lies within this process's offsets (null: not known). */
  cover(pos: WalPosition | null): void {
    this.walCovered = pos;
  }

  /** Whether the log still reaches back to the position known covered. */
  private knowsCoverage(): boolean {
    return this.walCovered !== null && this.files.wal.reader.holds(this.walCovered);
  }

  /** The log's position now, with every record before it in the room files (null if a disk fault refused the look). */
  async pinWal(): Promise<WalPosition | null> {
    return this.files.walPosition().catch((err: unknown) => {
      if (!isDiskFault(err)) throw err;
      return null;
    });
  }

  /**
   * Writes the checkpoint of what this process holds now (the caller holds the
   * checkpoint lock): the state is taken in one synchronous step, the waits for the
   * disk (the index, then the file) run off the event loop.
   */
  async write(): Promise<void> {
    const started = Date.now();
    // The log position these offsets cover: the first record past them, walked from one they covered already.
    const found = this.walCovered === null ? 'no covered position known' : this.files.wal.reader.coveredFrom(this.walCovered, (room) => this.files.offsets.of(room));
    const wal = typeof found === 'string' ? null : found;
    const index = snapshotIndex(this.index);
    const offsets = this.files.offsets.snapshot(index.names.length);
    const clock = this.clock.current();
    const covered = this.publisher.uncheckpointed;
    await this.origins.sync();
    const bytes = await writeCheckpoint(this.files.machineDir, { index, clock, offsets, wal });
    this.publisher.checkpointed(covered); // not before: a checkpoint a full disk refused is tried again
    this.walCovered = wal;
    if (wal !== null) this.files.wal.retireOld();
    this.log.info('wrote checkpoint', { bytes, rooms: index.rooms.length, follows: index.graph.room.length, wal: wal ?? found, ms: Date.now() - started });
  }
}
