/**
 * The write and sync steps of the commit path, under the machine's room lock:
 * what other writers appended first (the catch-up), then a commit's plan
 * (lib/core/commit-plan) written: its write-ahead log record, fsynced (the
 * durability point, before anyone is answered), then the room files (synced
 * lazily), then the record marked applied.
 */
import { ftruncateSync, writeSync } from 'node:fs';
import type { CommitPlan, Stored } from '../core/commit-plan';
import { isDiskFault } from '../core/disk-fault';
import { RecordState, TRAILER_BYTES } from '../core/wal-record';
import type { WalPosition } from '../core/wal-position';
import { timeSlicer } from '../common/time-slice';
import type { WriteAheadLog } from './write-ahead-log';
import type { MachineLock } from './machine-lock';
import type { RoomHandles } from './room-handles';
import type { RoomOffsets } from './room-offsets';
import type { RoomReader } from './room-reader';
import type { WalRecovery } from './wal-recovery';

/** What a commit wrote: where its lines lie, and its write-ahead log record (the doorbell's, for other processes to read the batch from). */
export interface Written {
  stored: Stored[];
  record: WalPosition | null;
}

/** A commit refused for a disk fault: nothing of it was acknowledged, and nothing of it stays (see CommitWriter.commit). */
export class CommitError extends Error {
  constructor(readonly cause: unknown) {
    super(`disk fault: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

/** The parts a commit writes through. */
export interface CommitWriterParts {
  readonly lock: MachineLock;
  readonly wal: WriteAheadLog;
  readonly recovery: WalRecovery;
  readonly reader: RoomReader;
  readonly handles: RoomHandles;
  readonly offsets: RoomOffsets;
}

export class CommitWriter {
  /** Where the write-ahead log ended after this process's last commit (null: unknown). */
  private walEnd: WalPosition | null = null;
  /**
   * Rooms whose read offset was their file's size at `walEnd`: a commit skips their
   * catch-up (an fstat and a read each) unless another writer's log record since
   * names them. A catch-up's batches touch thousands of rooms each.
   */
  private readonly exact = new Set<string>();

  constructor(private readonly p: CommitWriterParts) {}

  /**
   * One commit of `rooms`, run by `steps` under the machine lock, after a dead
   * writer's unfinished commit is finished: `steps` reads what other writers
   * appended (catchUp), plans what to add (lib/core/commit-plan) and writes the plan
   * (write). A disk fault (full, read-only, out of descriptors: lib/core/disk-fault)
   * anywhere on the way refuses the whole commit with a CommitError: nothing of the
   * batch stays in the files, or, if even taking it back failed, its record stays
   * pending and the next commit finishes it before stamping anything (so no seq is
   * handed out twice).
   */
  async commit<T>(rooms: string[], steps: () => Promise<T>): Promise<T> {
    const { lock, wal, recovery, reader } = this.p;
    try {
      return await lock.run(() => reader.mutex.runAll(rooms, async () => {
        recovery.recover();
        this.forgetOthersRooms(wal.position());
        this.walEnd = null; // until this commit is done
        const result = await steps();
        this.walEnd ??= wal.position();
        return result;
      }));
    } catch (err) {
      throw isDiskFault(err) ? new CommitError(err) : err;
    }
  }

  /**
   * Under the lock (in `commit`): the complete lines other writers appended to
   * `rooms` since this process last read them, a torn tail (its writer is dead) cut
   * off. Rooms no other writer's log record named since our last commit are skipped.
   */
  async catchUp(rooms: string[]): Promise<Stored[]> {
    const fresh: Stored[] = [];
    const slice = timeSlicer(); // a replicated batch can touch thousands of rooms: keep the lock's updates running
    for (const room of rooms) {
      await slice();
      if (this.exact.has(room)) continue;
      fresh.push(...this.p.reader.readPastRepairing(room));
      this.exact.add(room);
    }
    return fresh;
  }

  /**
   * Under the lock (in `commit`): writes a commit's plan. Its log record first,
   * fsynced (the durability point), then the room files (synced lazily), then the
   * record marked applied. Returns where its lines lie, and the record.
   */
  async write(plan: CommitPlan): Promise<Written> {
    if (plan.appends.length === 0) return { stored: [], record: null };
    const { wal, handles, offsets } = this.p;
    const record = wal.write(plan.appends);
    await wal.sync(record); // a failed sync takes the record back
    try {
      for (const a of plan.appends) writeSync(handles.getOrCreate(a.room), a.data);
    } catch (cause) {
      // e.g. ENOSPC: take the whole batch back (its seqs are handed out again) and void its record.
      for (const a of plan.appends) ftruncateSync(handles.getOrCreate(a.room), a.offset);
      wal.mark(record, RecordState.Void);
      throw cause;
    }
    wal.mark(record, RecordState.Applied);
    this.walEnd = { segment: record.segment, offset: record.stateAt + TRAILER_BYTES };
    for (const a of plan.appends) offsets.set(a.room, a.offset + a.data.length);
    return { stored: plan.stored, record: { segment: record.segment, offset: record.offset } };
  }

  /**
   * Drops from `exact` the rooms other writers appended to since this process's last
   * commit (their log records between its end and `now`); all of them if that is
   * not known (the first commit, a failed one, a new segment).
   */
  private forgetOthersRooms(now: WalPosition): void {
    const last = this.walEnd;
    if (last !== null && last.segment === now.segment && last.offset === now.offset) return;
    const rooms = last !== null && last.segment === now.segment && last.offset < now.offset ? this.p.wal.reader.roomsBetween(now.segment, last.offset, now.offset) : null;
    if (rooms === null || typeof rooms === 'string') this.exact.clear();
    else for (const room of rooms) this.exact.delete(room);
  }
}
