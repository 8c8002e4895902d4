/**
 * A machine's write-ahead log: data/<machine>/wal/<n>.log segments of records
 * (lib/core/wal-record). Every commit, local or replicated, first appends one
 * record holding all it will add to the room files and fsyncs it: that is the
 * durability point, one fsync per batch. The room files get the bytes next and
 * are synced lazily: when a segment fills up, the next one is started, and once
 * the file system has been synced (`sync -f`) the old segments are deleted, except
 * those from the checkpoint's log position on (a load reads the rooms they name),
 * at most KEPT_SEGMENTS of them (past that, a load reads every room file).
 *
 * Recovery, always under the machine's room lock:
 *  - a writer killed between its record and its room files leaves the last record
 *    pending: the next writer (or loader) finishes it before doing anything else,
 *    so an origin never has a gap and a seq is never handed out twice;
 *  - a power loss can take room-file pages that were never synced: the first
 *    process to load after a reboot (a new kernel boot id) checks every record
 *    against the room files and rewrites what is missing (wal-replay.ts).
 *
 * This appends; the segment files are wal-segments.ts's, a record's sync and mark
 * wal-appended.ts's, deleting old segments wal-retirement.ts's, reads wal-reader.ts's.
 */
import { closeSync, fstatSync, ftruncateSync, writeSync } from 'node:fs';
import { encodeRecord, TRAILER_BYTES, type RecordState, type WalPart } from '../core/wal-record';
import type { WalPosition } from '../core/wal-position';
import { LOG_DEFAULTS } from '../common/config';
import type { Logger } from '../common/log';
import { mkdirDurableSync } from './fsync-dir';
import { machinePath } from './data-dir';
import { markAppended, syncAppended, type Appended } from './wal-appended';
import { WalReader } from './wal-reader';
import { finishLast, replayIfRebooted, type ApplyParts } from './wal-replay';
import { WalRetirement } from './wal-retirement';
import { listSegments, openSegment } from './wal-segments';

export type { Appended } from './wal-appended';

/** A segment is closed once it holds this much (config storage.walSegmentBytes); its records reach the room files' fsync at the next `sync -f`. */
export const SEGMENT_BYTES = LOG_DEFAULTS.walSegmentBytes;
/**
 * Full segments kept for the checkpoint's sake at most: a checkpoint is written
 * after 100,000 events (about 2 segments), but a hole waiting for a peer or a full
 * disk can hold it back for long, and the log must not grow without bound meanwhile.
 */
export const KEPT_SEGMENTS = 8;

export class WriteAheadLog {
  readonly dir: string;
  /** What the log's records say, for any process of the machine (wal-reader.ts). */
  readonly reader: WalReader;
  private readonly retirement: WalRetirement;
  private fd = -1;
  private segment = -1;

  constructor(
    machineDir: string,
    private readonly log: Logger,
    private readonly segmentBytes = SEGMENT_BYTES,
    /** The oldest segment a load may still read (the checkpoint's), if any. */
    retainFrom: () => number | null = () => null,
    keptSegments = KEPT_SEGMENTS,
  ) {
    this.dir = machinePath(machineDir, 'wal');
    this.reader = new WalReader(this.dir);
    this.retirement = new WalRetirement(this.dir, log, retainFrom, keptSegments);
  }

  /**
   * Makes the room files hold every durable record (the caller holds the room
   * lock): after a reboot all of them are checked (unless `lastOnly`: the log was
   * checked already), otherwise only the last one, which is pending only if its
   * writer died mid-commit. Returns whether all of them were replayed (room-file
   * bytes may have been rewritten anywhere).
   */
  recover(apply: ApplyParts, lastOnly = false): boolean {
    if (!lastOnly) {
      mkdirDurableSync(this.dir);
      if (replayIfRebooted(this.dir, this.log, apply)) return true;
    }
    finishLast(this.dir, { fd: this.current(), segment: this.segment }, this.log, apply);
    return false;
  }

  /**
   * Where the next record goes. Called under the room lock after `recover`, it
   * is a point before which every record is in the room files.
   */
  position(): WalPosition {
    const fd = this.current();
    return { segment: this.segment, offset: fstatSync(fd).size };
  }

  /**
   * Appends a record (the caller holds the room lock); a failed write (a full
   * disk) leaves nothing behind. It is durable once `sync` returns.
   */
  write(parts: WalPart[]): Appended {
    let fd = this.current();
    if (fstatSync(fd).size >= this.segmentBytes) fd = this.rotate(); // its last record is finished (recover ran)
    const before = fstatSync(fd).size;
    const record = encodeRecord(parts);
    try {
      writeSync(fd, record, 0, record.length, before);
    } catch (err) {
      ftruncateSync(fd, before);
      throw err;
    }
    return { fd, segment: this.segment, offset: before, stateAt: before + record.length - TRAILER_BYTES };
  }

  /** Waits for the record to be on disk; if that fails, the record is cut off again (never applied, never acknowledged). */
  sync(r: Appended): Promise<void> {
    return syncAppended(r);
  }

  /** Rewrites a record's state in place; a void one is synced, so a reboot can never apply it. */
  mark(r: Appended, state: RecordState): void {
    markAppended(r, state);
  }

  /** Retires the full segments a new checkpoint no longer needs, without waiting for the next rotation. */
  retireOld(): void {
    if (this.segment >= 0) void this.retirement.retire(this.segment);
  }

  /** The open segment (the newest), opened or created. */
  private current(): number {
    // Only a full segment is ever followed by a newer one: while ours is not full it is the newest
    // (one fstat per commit instead of listing the directory).
    if (this.fd >= 0 && fstatSync(this.fd).size < this.segmentBytes) return this.fd;
    const newest = listSegments(this.dir).pop() ?? 0;
    if (newest !== this.segment || this.fd < 0) {
      if (this.fd >= 0) closeSync(this.fd);
      this.segment = newest;
      this.fd = openSegment(this.dir, newest);
    }
    return this.fd;
  }

  /** Starts the next segment, and retires the full ones once the file system is synced. */
  private rotate(): number {
    const next = this.segment + 1;
    closeSync(openSegment(this.dir, next));
    void this.retirement.retire(next);
    return this.current();
  }
}
