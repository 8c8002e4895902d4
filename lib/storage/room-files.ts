/**
 * The room files of one machine: data/<machine>/rooms/<room>.jsonl, append-only,
 * and the parts that read and write them. Writers append under one proper-lockfile
 * lock per machine (a whole group commit takes it once); a commit is durable once
 * its write-ahead log record is fsynced, before anyone is answered, and the room
 * files are synced lazily. Under the lock a writer first reads what others appended
 * since it last looked, and cuts off a torn tail left by a writer killed mid-append.
 * Readers never need the lock: they take only complete lines (room-reader.ts).
 *
 * Opening, reading, appending and truncating only touch the page cache, so they
 * are synchronous: a few microseconds each, where a round trip through libuv's
 * thread pool costs far more on a busy machine (a commit touches every room of its
 * batch). Only the wait for the disk, the log's fsync, runs off the event loop.
 */
import { promises as fs, ftruncateSync, writeSync } from 'node:fs';
import type { CommitPlan, Stored } from '../core/commit-plan';
import { isDiskFault } from '../core/disk-fault';
import { RecordState, TRAILER_BYTES } from '../core/wal-record';
import type { WalPosition } from '../core/wal-position';
import type { Logger } from '../common/log';
import { timeSlicer } from '../common/time-slice';
import { readCheckpointWal } from './checkpoint-file';
import { WriteAheadLog } from './write-ahead-log';
import { MachineLock } from './machine-lock';
import { machinePath } from './data-dir';
import { RoomHandles } from './room-handles';
import { RoomOffsets } from './room-offsets';
import { RoomQuarantine } from './room-quarantine';
import { RoomReader } from './room-reader';
import { CheckpointLock } from './checkpoint-lock';
import { WalRecovery } from './wal-recovery';

export interface RoomFilesOptions {
  machineDir: string;
  log: Logger;
  lockStaleMs: number;
  /** Called if the lock was lost while held (e.g. this process was paused past `stale`). */
  onCompromised: (err: Error) => void;
  /** Write-ahead log segment size (tests make it small to cross segment boundaries). */
  walSegmentBytes?: number;
  /**
   * The share of the descriptor limit kept as open room files (default a quarter: a
   * worker's client connections need the rest). A replicator, with a few peer
   * connections, appends every catch-up and serves the peers' reads, which touch
   * rooms at random: more of them stay open.
   */
  handleShare?: number;
  /** Full log segments kept for the checkpoint's sake at most (write-ahead-log KEPT_SEGMENTS). */
  walKeptSegments?: number;
}

/** The one lock a machine's writers append under. */
export function roomLockPath(machineDir: string): string {
  return machinePath(machineDir, 'roomsLock');
}

/** The machine's room lock, as one writer holds it (a lease: lib/storage/machine-lock). */
export function roomLock(machineDir: string, staleMs: number, onCompromised: (err: Error) => void): MachineLock {
  return new MachineLock({
    dir: machinePath(machineDir, 'rooms'),
    lockPath: roomLockPath(machineDir),
    wantedPath: machinePath(machineDir, 'roomsLockWanted'),
    staleMs,
    waitMs: ROOM_LOCK_WAIT_MS,
    onCompromised,
    clockDir: machineDir,
  });
}

/** A writer gives up waiting for the room lock after this long (a commit's record and fsync take ms; a stale lock is taken over after lockStaleMs). */
const ROOM_LOCK_WAIT_MS = 8_000;

export class RoomFiles {
  readonly machineDir: string;
  readonly roomsDir: string;
  readonly offsets = new RoomOffsets();
  readonly reader: RoomReader;
  readonly quarantine: RoomQuarantine;
  readonly wal: WriteAheadLog;
  readonly checkpointLock: CheckpointLock;
  private readonly handles: RoomHandles;
  private readonly recovery: WalRecovery;
  private readonly lock: MachineLock;
  /** Where the record of this process's last commit lies (for the doorbell: other processes read the batch from it). */
  lastRecord: WalPosition | null = null;
  /** Where the write-ahead log ended after this process's last commit (null: unknown). */
  private walEnd: WalPosition | null = null;
  /**
   * Rooms whose read offset was their file's size at `walEnd`: a commit skips their
   * catch-up (an fstat and a read each) unless another writer's log record since
   * names them. A catch-up's batches touch thousands of rooms each.
   */
  private readonly exact = new Set<string>();

  constructor(opts: RoomFilesOptions) {
    this.machineDir = opts.machineDir;
    this.roomsDir = machinePath(opts.machineDir, 'rooms');
    this.handles = new RoomHandles(this.roomsDir, opts.handleShare);
    this.quarantine = new RoomQuarantine(opts.machineDir, this.handles, opts.log);
    this.reader = new RoomReader(this.handles, this.offsets, this.quarantine, opts.log);
    const retainFrom = (): number | null => readCheckpointWal(opts.machineDir)?.segment ?? null;
    this.wal = new WriteAheadLog(opts.machineDir, opts.log, opts.walSegmentBytes, retainFrom, opts.walKeptSegments);
    this.recovery = new WalRecovery(this.wal, this.handles, opts.log);
    this.checkpointLock = new CheckpointLock(opts.machineDir, opts.log);
    this.lock = roomLock(opts.machineDir, opts.lockStaleMs, opts.onCompromised);
  }

  async init(): Promise<void> {
    await fs.mkdir(this.roomsDir, { recursive: true });
  }

  /**
   * One commit of `rooms`, run by `steps` under the machine lock (held as a lease),
   * after a dead writer's unfinished commit is finished: `steps` reads what other
   * writers appended (catchUp), plans what to add (lib/core/commit-plan) and writes
   * the plan (write). A disk fault (full, read-only, out of descriptors:
   * lib/core/disk-fault) anywhere on the way refuses the whole commit with a
   * CommitError: nothing of the batch stays in the files, or, if even taking it back
   * failed, its record stays pending and the next commit finishes it before stamping
   * anything (so no seq is handed out twice).
   */
  async commit<T>(rooms: string[], steps: () => Promise<T>): Promise<T> {
    try {
      return await this.lock.run((fresh) => this.reader.mutex.runAll(rooms, async () => {
        // A lease held since our last commit: no other writer can have left a record unfinished.
        if (fresh || !this.recovery.recovered) this.recovery.recover(); // a load that met a full disk left its recovery to the first commit
        this.forgetOthersRooms(this.wal.position());
        this.walEnd = null; // until this commit is done
        const result = await steps();
        this.walEnd ??= this.wal.position();
        return result;
        // Let go after each commit: held as a lease across batches, two busy workers handed it over
        // at every commit and durable posts/s fell to a quarter (bench/RESULTS.md, chat).
      }), false);
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
      fresh.push(...this.reader.readPastRepairing(room));
      this.exact.add(room);
    }
    return fresh;
  }

  /**
   * Under the lock (in `commit`): writes a commit's plan. Its log record first,
   * fsynced (the durability point), then the room files (synced lazily), then the
   * record marked applied. Returns where its lines lie.
   */
  async write(plan: CommitPlan): Promise<Stored[]> {
    if (plan.appends.length === 0) return [];
    const record = this.wal.write(plan.appends);
    await this.wal.sync(record); // a failed sync takes the record back
    try {
      for (const a of plan.appends) writeSync(this.handles.getOrCreate(a.room), a.data);
    } catch (cause) {
      // e.g. ENOSPC: take the whole batch back (its seqs are handed out again) and void its record.
      for (const a of plan.appends) ftruncateSync(this.handles.getOrCreate(a.room), a.offset);
      this.wal.mark(record, RecordState.Void);
      throw cause;
    }
    this.wal.mark(record, RecordState.Applied);
    this.lastRecord = { segment: record.segment, offset: record.offset };
    this.walEnd = { segment: record.segment, offset: record.stateAt + TRAILER_BYTES };
    for (const a of plan.appends) this.offsets.set(a.room, a.offset + a.data.length);
    return plan.stored;
  }

  /**
   * Drops from `exact` the rooms other writers appended to since this process's last
   * commit (their log records between its end and `now`); all of them if that is
   * not known (the first commit, a failed one, a new segment).
   */
  private forgetOthersRooms(now: WalPosition): void {
    const last = this.walEnd;
    if (last !== null && last.segment === now.segment && last.offset === now.offset) return;
    const rooms = last !== null && last.segment === now.segment && last.offset < now.offset ? this.wal.roomsBetween(now.segment, last.offset, now.offset) : null;
    if (rooms === null || typeof rooms === 'string') this.exact.clear();
    else for (const room of rooms) this.exact.delete(room);
  }

  /**
   * Makes the room files hold every durable write-ahead log record (after a
   * writer died mid-commit, or a reboot lost unsynced pages). Under the lock.
   * Returns whether every record was replayed (after a reboot).
   */
  async recover(): Promise<boolean> {
    return this.withLock(async () => this.recovery.recover(true));
  }

  /**
   * The log's position at a moment when the room files hold every record before
   * it (under the lock, a dead writer's commit finished first): a scan of every
   * room file started after this covers the log up to it.
   */
  async walPosition(): Promise<WalPosition> {
    return this.withLock(async () => {
      this.recovery.recover();
      return this.wal.position();
    });
  }

  /** Runs `fn` holding the machine's room lock: no writer appends meanwhile. */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.run(fn);
  }

  /** This writer has nothing more to commit for now: its lease on the room lock (commit keeps it) lapses soon. */
  idle(onError: (err: Error) => void): void {
    this.lock.idle(onError);
  }
}

/** A commit refused for a disk fault: nothing of it was acknowledged, and nothing of it stays (see commit). */
export class CommitError extends Error {
  constructor(readonly cause: unknown) {
    super(`disk fault: ${(cause as Error)?.message ?? String(cause)}`);
  }
}
