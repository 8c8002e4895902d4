/**
 * The room files of one machine: data/<machine>/rooms/<room>.jsonl, append-only,
 * and the parts that read and write them, built once and shared (never replaced).
 * Writers append under one proper-lockfile lock per machine (a whole group commit
 * takes it once: commit-writer.ts); a commit is durable once its write-ahead log
 * record is fsynced, before anyone is answered, and the room files are synced
 * lazily. Readers never need the lock: they take only complete lines (room-reader.ts).
 *
 * Opening, reading, appending and truncating only touch the page cache, so they
 * are synchronous: a few microseconds each, where a round trip through libuv's
 * thread pool costs far more on a busy machine (a commit touches every room of its
 * batch). Only the wait for the disk, the log's fsync, runs off the event loop.
 */
import { promises as fs } from 'node:fs';
import type { WalPosition } from '../core/wal-position';
import type { Logger } from '../common/log';
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
import { CommitWriter } from './commit-writer';

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

/** The machine's room lock, as one writer holds it (lib/storage/machine-lock). */
export function roomLock(machineDir: string, staleMs: number, onCompromised: (err: Error) => void): MachineLock {
  return new MachineLock({
    dir: machinePath(machineDir, 'rooms'),
    lockPath: roomLockPath(machineDir),
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
  readonly offsets = new RoomOffsets();
  readonly reader: RoomReader;
  readonly quarantine: RoomQuarantine;
  readonly wal: WriteAheadLog;
  readonly checkpointLock: CheckpointLock;
  /** The write and sync steps of the commit path. */
  readonly writer: CommitWriter;
  private readonly handles: RoomHandles;
  private readonly recovery: WalRecovery;
  private readonly lock: MachineLock;

  constructor(opts: RoomFilesOptions) {
    this.machineDir = opts.machineDir;
    this.handles = new RoomHandles(machinePath(opts.machineDir, 'rooms'), opts.handleShare);
    this.quarantine = new RoomQuarantine(opts.machineDir, this.handles, opts.log);
    this.reader = new RoomReader(this.handles, this.offsets, this.quarantine, opts.log);
    const retainFrom = (): number | null => readCheckpointWal(opts.machineDir)?.segment ?? null;
    this.wal = new WriteAheadLog(opts.machineDir, opts.log, opts.walSegmentBytes, retainFrom, opts.walKeptSegments);
    this.recovery = new WalRecovery(this.wal, this.handles, opts.log);
    this.checkpointLock = new CheckpointLock(opts.machineDir, opts.log);
    this.lock = roomLock(opts.machineDir, opts.lockStaleMs, opts.onCompromised);
    const { lock, wal, recovery, reader, handles, offsets } = this;
    this.writer = new CommitWriter({ lock, wal, recovery, reader, handles, offsets });
  }

  async init(): Promise<void> {
    await fs.mkdir(this.handles.roomsDir, { recursive: true });
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
}
