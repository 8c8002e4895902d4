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
 *    against the room files and rewrites what is missing.
 */
import { execFile } from 'node:child_process';
import { closeSync, constants, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readdirSync, readFileSync, readSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeRecord, decodeSegment, encodeRecord, FRAME_BYTES, readTrailer, RecordState, TRAILER_BYTES, type WalPart, type WalRecord } from '../core/wal-record';
import { firstUncovered, roomsAfter, type WalPosition } from '../core/wal-position';
import { LOG_DEFAULTS } from '../common/config';
import { errorMessage, type Logger } from '../common/log';
import { metrics } from '../common/metrics';
import { fsyncDirSync, mkdirDurableSync } from './fsync-dir';
import { machinePath } from './data-dir';

/** A segment is closed once it holds this much (config storage.walSegmentBytes); its records reach the room files' fsync at the next `sync -f`. */
export const SEGMENT_BYTES = LOG_DEFAULTS.walSegmentBytes;
/**
 * Full segments kept for the checkpoint's sake at most: a checkpoint is written
 * after 100,000 events (about 2 segments), but a hole waiting for a peer or a full
 * disk can hold it back for long, and the log must not grow without bound meanwhile.
 */
export const KEPT_SEGMENTS = 8;
const BOOT_ID = '/proc/sys/kernel/random/boot_id';

const fdatasyncAsync = promisify(fdatasync);
const execFileAsync = promisify(execFile);

/** A record just made durable (its segment, and its start as `offset`), to be marked once its commit is done. */
export interface Appended extends WalPosition {
  fd: number;
  stateAt: number;
}

export class WriteAheadLog {
  readonly dir: string;
  private fd = -1;
  private segment = -1;
  private retiring = false;
  /** The segment the next retiring pass keeps from (a rotation while one runs raises it). */
  private retireBelow = -1;

  constructor(
    machineDir: string,
    private readonly log: Logger,
    private readonly segmentBytes = SEGMENT_BYTES,
    /** The oldest segment a load may still read (the checkpoint's), if any. */
    private readonly retainFrom: () => number | null = () => null,
    private readonly keptSegments = KEPT_SEGMENTS,
  ) {
    this.dir = machinePath(machineDir, 'wal');
  }

  /**
   * Makes the room files hold every durable record (the caller holds the room
   * lock): after a reboot all of them are checked, otherwise only the last one,
   * which is pending only if its writer died mid-commit. Returns whether all of
   * them were replayed (room-file bytes may have been rewritten anywhere).
   */
  recover(apply: (parts: WalPart[]) => void): boolean {
    mkdirDurableSync(this.dir);
    const boot = currentBoot();
    if (boot === null || readFileOr(join(this.dir, 'boot')) !== boot) {
      this.replayAll(apply);
      writeFileSync(join(this.dir, 'boot'), boot ?? '');
      return true;
    }
    this.finishLast(apply);
    return false;
  }

  /**
   * Where the next record goes. Called under the room lock after `finishLast`, it
   * is a point before which every record is in the room files.
   */
  position(): WalPosition {
    const fd = this.current();
    return { segment: this.segment, offset: fstatSync(fd).size };
  }

  /** The rooms the records from `from` on name (lib/core/wal-position), or why the log cannot tell. */
  roomsSince(from: WalPosition): Set<string> | string {
    return roomsAfter(from, this.segmentsOr(), (n) => this.readSegment(n), 'skip');
  }

  /** The first record from `from` on not within `coveredTo` (records before `from` must be), or why the log cannot tell. */
  coveredFrom(from: WalPosition, coveredTo: (room: string) => number): WalPosition | string {
    return firstUncovered(from, this.segmentsOr(), (n) => this.readSegment(n), coveredTo);
  }

  /** Whether the log still holds the segment of `p` (a walk from it can succeed). */
  holds(p: WalPosition): boolean {
    return this.segmentsOr().includes(p.segment);
  }

  /**
   * Finishes the last record if its writer died before marking it (the caller
   * holds the room lock), cutting off a record torn by a writer killed mid-append.
   */
  finishLast(apply: (parts: WalPart[]) => void): void {
    const fd = this.current();
    const size = fstatSync(fd).size;
    if (size === 0) return;
    const trailer = Buffer.alloc(TRAILER_BYTES);
    readSync(fd, trailer, 0, TRAILER_BYTES, size - TRAILER_BYTES);
    const { state, payloadLen } = readTrailer(trailer);
    const at = size - payloadLen - FRAME_BYTES;
    if (state !== RecordState.Pending && at >= 0) {
      const head = Buffer.alloc(4);
      readSync(fd, head, 0, 4, at);
      if (head.readUInt32LE(0) === payloadLen) return; // whole, and done with
    }
    // Pending, or torn: read the segment's valid prefix (rare: only after a writer died).
    const { records, end, stop } = decodeSegment(readFileSync(join(this.dir, segmentName(this.segment))));
    if (end < size) {
      this.log.warn('cut off a torn write-ahead log record', { segment: this.segment, at: end, bytes: size - end, reason: stop });
      ftruncateSync(fd, end);
    }
    const last = records[records.length - 1];
    if (last?.state === RecordState.Pending) {
      apply(last.parts);
      this.mark({ fd, segment: this.segment, offset: last.at, stateAt: last.at + last.size - TRAILER_BYTES }, RecordState.Applied);
      this.log.warn('finished a commit whose writer died', { rooms: last.parts.length, bytes: last.size });
    }
  }

  /**
   * Appends a record (the caller holds the room lock); a failed write (a full
   * disk) leaves nothing behind. It is durable once `sync` returns.
   */
  write(parts: WalPart[]): Appended {
    let fd = this.current();
    if (fstatSync(fd).size >= this.segmentBytes) fd = this.rotate(); // its last record is finished (finishLast ran)
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

  /**
   * The rooms the records of `segment` between `from` and `to` write to (void ones
   * too: their appends were taken back), or why they cannot be read. Only those
   * bytes are read (a commit asks this under the lock).
   */
  roomsBetween(segment: number, from: number, to: number): Set<string> | string {
    // Those bytes walked as a log of their own: only the rooms are wanted, not positions.
    return roomsAfter({ segment: 0, offset: 0 }, [0], () => this.readRange(segment, from, to), 'count');
  }

  /** The bytes of a segment from `from` to `to`, or null if they cannot be read. */
  private readRange(segment: number, from: number, to: number): Buffer | null {
    let fd: number;
    try {
      fd = openSync(join(this.dir, segmentName(segment)), 'r');
    } catch {
      return null;
    }
    try {
      const buf = Buffer.allocUnsafe(to - from);
      return readSync(fd, buf, 0, buf.length, from) === buf.length ? buf : null;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * The applied record at `pos`, for another process of the machine that was told of
   * its commit; null if it is gone (its segment retired) or is not a whole applied record.
   */
  readAt(pos: WalPosition): WalRecord | null {
    let fd: number;
    try {
      fd = openSync(join(this.dir, segmentName(pos.segment)), 'r');
    } catch {
      return null;
    }
    try {
      const head = Buffer.alloc(4);
      if (readSync(fd, head, 0, 4, pos.offset) !== 4) return null;
      const buf = Buffer.allocUnsafe(head.readUInt32LE(0) + FRAME_BYTES);
      if (readSync(fd, buf, 0, buf.length, pos.offset) !== buf.length) return null;
      const r = decodeRecord(buf);
      return typeof r === 'string' || r.state !== RecordState.Applied ? null : r;
    } finally {
      closeSync(fd);
    }
  }

  /** Waits for the record to be on disk; if that fails, the record is cut off again (never applied, never acknowledged). */
  async sync(r: Appended): Promise<void> {
    const synced = metrics.fsync.startTimer();
    try {
      await fdatasyncAsync(r.fd);
    } catch (err) {
      ftruncateSync(r.fd, r.offset);
      throw err;
    } finally {
      synced();
    }
  }

  /** Rewrites a record's state in place; a void one is synced, so a reboot can never apply it. */
  mark(r: Appended, state: RecordState): void {
    writeSync(r.fd, Buffer.from([state]), 0, 1, r.stateAt);
    if (state === RecordState.Void) fdatasyncSync(r.fd); // before the lock is let go
  }

  /** The open segment (the newest), opened or created. */
  private current(): number {
    // Only a full segment is ever followed by a newer one: while ours is not full it is the newest
    // (one fstat per commit instead of listing the directory).
    if (this.fd >= 0 && fstatSync(this.fd).size < this.segmentBytes) return this.fd;
    const newest = this.segments().pop() ?? 0;
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
    void this.retire(next);
    return this.current();
  }

  /**
   * Deletes the segments before `keep` once every room file written before now is
   * on disk: `sync -f` syncs the whole file system, where fsyncing each room a
   * segment touched could be tens of thousands of calls. The checkpoint's segment
   * and those after it stay, up to `keptSegments` of them.
   */
  private async retire(keep: number): Promise<void> {
    this.retireBelow = Math.max(this.retireBelow, keep);
    if (this.retiring) return; // the pass running now goes again for it (a sync -f can take seconds)
    this.retiring = true;
    try {
      for (let done = -1; done < this.retireBelow; ) {
        done = this.retireBelow;
        await execFileAsync('sync', ['-f', this.dir]);
        const floor = Math.min(done, Math.max(this.retainFrom() ?? done, done - this.keptSegments));
        for (const n of this.segments()) if (n < floor) unlinkSync(join(this.dir, segmentName(n)));
      }
    } catch (err) {
      this.log.warn('could not retire write-ahead log segments (kept for now)', { error: errorMessage(err) });
    } finally {
      this.retiring = false;
    }
  }

  private replayAll(apply: (parts: WalPart[]) => void): void {
    let records = 0;
    for (const n of this.segments()) {
      const path = join(this.dir, segmentName(n));
      const buf = readFileSync(path);
      const seg = decodeSegment(buf);
      for (const r of seg.records) {
        if (r.state === RecordState.Void) continue;
        apply(r.parts);
        records++;
      }
      if (seg.end < buf.length) {
        this.log.warn('cut off a torn write-ahead log record', { segment: n, at: seg.end, bytes: buf.length - seg.end, reason: seg.stop });
        const fd = openSync(path, 'r+');
        try {
          ftruncateSync(fd, seg.end);
        } finally {
          closeSync(fd);
        }
      }
    }
    if (records > 0) this.log.info('checked the write-ahead log against the room files after a reboot', { records });
  }

  /** Retires the full segments a new checkpoint no longer needs, without waiting for the next rotation. */
  retireOld(): void {
    if (this.segment >= 0) void this.retire(this.segment);
  }

  private readSegment(n: number): Buffer | null {
    try {
      return readFileSync(join(this.dir, segmentName(n)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null; // retired meanwhile
      throw err;
    }
  }

  /** The segments present; none if the log's directory is not there (yet). */
  private segmentsOr(): number[] {
    try {
      return this.segments();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  private segments(): number[] {
    return readdirSync(this.dir)
      .map((name) => /^(\d{12})\.log$/.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }
}

/**
 * Opens a segment (not O_APPEND: states are rewritten in place), creating it if need
 * be: a new one's name is made durable (the log dir fsynced) before any record goes
 * in, or a power cut could take the whole segment with its acknowledged records.
 */
function openSegment(dir: string, n: number): number {
  const path = join(dir, segmentName(n));
  try {
    return openSync(path, constants.O_RDWR);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  try {
    fsyncDirSync(dir);
  } catch (err) {
    // (a full disk, say) not left behind unsynced: the next try creates and syncs it again
    closeSync(fd);
    rmSync(path, { force: true });
    throw err;
  }
  return fd;
}

function segmentName(n: number): string {
  return `${String(n).padStart(12, '0')}.log`;
}

/**
 * The kernel's boot id. FTCHAT_BOOT_ID_FILE names another file to read it from: the
 * power-loss tests' disk (test/tools/lazyfs) gives each of its mounts, each boot after
 * a power cut, an id of its own.
 */
function currentBoot(): string | null {
  try {
    return readFileSync(process.env.FTCHAT_BOOT_ID_FILE || BOOT_ID, 'utf8').trim();
  } catch {
    return null; // not Linux: check everything at every load
  }
}

function readFileOr(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}
