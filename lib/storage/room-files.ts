/**
 * The room files of one machine: data/<machine>/rooms/<room>.jsonl, append-only.
 * Writers append under one proper-lockfile lock per machine (a whole group commit
 * takes it once); a commit is durable once its write-ahead log record is fsynced,
 * before anyone is answered, and the room files are synced lazily. Under the lock a writer
 * first reads what others appended since it last looked, and cuts off a torn tail
 * left by a writer killed mid-append. Readers never need the lock: they take
 * only complete lines.
 *
 * Opening, reading, appending and truncating only touch the page cache, so they
 * are synchronous: a few microseconds each, where a round trip through libuv's
 * thread pool costs far more on a busy machine (a commit touches every room of its
 * batch). Only the wait for the disk, the log's fsync, runs off the event loop.
 */
import { closeSync, constants, fdatasyncSync, fstatSync, ftruncateSync, openSync, promises as fs, readdirSync, readFileSync, readSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import type { ChatEvent } from '../core/event';
import type { CommitPlan, Stored } from '../core/commit-plan';
import { blankLine, parseLine, parseRoomLog, type CorruptLine, type ParsedLog } from '../core/room-log';
import { NameNumbers } from '../core/name-numbers';
import { isQuarantineFile, quarantineFileName } from '../core/quarantine';
import { isDiskFault } from '../core/disk-fault';
import { isUsername } from '../core/usernames';
import { RecordState, TRAILER_BYTES, type WalPart, type WalRecord } from '../core/wal-record';
import type { WalPosition } from '../core/wal-position';
import { KeyedMutex } from '../common/keyed-mutex';
import { errorMessage, type Logger } from '../common/log';
import { timeSlicer } from '../common/time-slice';
import { readCheckpointWal } from './checkpoint-file';
import { clockOffsetMs, lockFs } from './lock-clock';
import { ownedLockFs } from './lock-owner';
import { WriteAheadLog } from './write-ahead-log';
import { MachineLock } from './machine-lock';
import { fsyncDirSync, mkdirDurableSync } from './fsync-dir';
import { machinePath } from './data-dir';

const SUFFIX = '.jsonl';

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


/**
 * Room files kept open (resumes, catch-ups, doorbells, commits): opening and
 * closing each room of every batch cost more than the append itself, and a
 * catch-up's batches touch thousands of rooms each. A share of the process's
 * descriptor limit (node raises it to the hard limit at start: 524,288 under
 * systemd), at most 65,536.
 */
const MAX_OPEN_HANDLES = 65_536;
/** A start-up scan reads at most this much of a file at once (about 1,000 events: a few ms, so it yields often). */
const SCAN_CHUNK_BYTES = 256 << 10;
/**
 * The checkpoint lock outlives a busy holder: a first start over a long history on a
 * loaded machine may stall its event loop a while, and losing the lock then only
 * lets another process build too (the checkpoint file is written atomically).
 */
const CHECKPOINT_LOCK_STALE_MS = 10_000;
/** A loader waiting for a sibling's load looks this often (a load takes 0.1-1 s; one mkdir a look). */
const CHECKPOINT_LOCK_POLL_MS = 20;
/** A writer gives up waiting for the room lock after this long (a commit's record and fsync take ms; a stale lock is taken over after lockStaleMs). */
const ROOM_LOCK_WAIT_MS = 8_000;

export class RoomFiles {
  readonly machineDir: string;
  readonly roomsDir: string;
  private readonly lock: MachineLock;
  private offsets = new NameNumbers();
  private readonly mutex = new KeyedMutex();
  private readonly handles = new Map<string, number>(); // room -> fd, least recently used first
  private readonly openHandles: number;
  private checkpointLockFs?: ReturnType<typeof lockFs>;
  private readonly wal: WriteAheadLog;
  /** Corrupt lines a scan without the lock found, to quarantine under it. */
  private suspects: ({ room: string } & CorruptLine)[] = [];
  /** The write-ahead log was checked against the room files (at load, or by the first commit). */
  private recovered = false;
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

  constructor(private readonly opts: RoomFilesOptions) {
    this.machineDir = opts.machineDir;
    this.roomsDir = machinePath(opts.machineDir, 'rooms');
    this.lock = roomLock(opts.machineDir, opts.lockStaleMs, opts.onCompromised);
    const retainFrom = (): number | null => readCheckpointWal(opts.machineDir)?.segment ?? null;
    this.wal = new WriteAheadLog(opts.machineDir, opts.log, opts.walSegmentBytes, retainFrom, opts.walKeptSegments);
    this.openHandles = Math.min(MAX_OPEN_HANDLES, Math.max(256, Math.floor(openFilesLimit() * (opts.handleShare ?? 1 / 4))));
  }

  async init(): Promise<void> {
    await fs.mkdir(this.roomsDir, { recursive: true });
  }

  async roomsOnDisk(): Promise<string[]> {
    const names = await fs.readdir(this.roomsDir);
    return names.filter((n) => n.endsWith(SUFFIX)).map((n) => n.slice(0, -SUFFIX.length)).sort();
  }

  /** How far this process has read the room's file (whole lines). */
  offsetOf(room: string): number {
    return this.offsets.get(room);
  }

  /** The room's lines up to `end` were taken from elsewhere (their index records): read on from there. */
  passTo(room: string, end: number): void {
    if (end > this.offsets.get(room)) this.offsets.set(room, end);
  }

  /** Every room's read offset, per id of the first `names` of the offsets' name table, for a checkpoint. */
  offsetsSnapshot(names: number): Float64Array {
    return this.offsets.snapshot(names);
  }

  /** Starts from a checkpoint's offsets (over the journal's name table): only what lies past them is read again. */
  restoreOffsets(offsets: NameNumbers): void {
    this.offsets = offsets;
  }

  /**
   * Reads what the room files hold past this process's offsets, without the lock
   * (only whole lines count; a torn tail is cut by the next writer under the lock),
   * a chunk at a time: `take` gets each chunk's events and may yield between chunks.
   * Reads the given rooms, or every room file there is; returns how many it looked at.
   */
  async scanNew(take: (stored: Stored[]) => Promise<void>, rooms?: Iterable<string>): Promise<number> {
    let looked = 0;
    for (const room of rooms ?? (await this.roomsOnDisk())) {
      looked++;
      if (!this.grown(room)) continue;
      const fd = openSync(this.fileOf(room), 'r');
      try {
        for (;;) {
          const chunk = this.readPast(room, fd, false, SCAN_CHUNK_BYTES);
          if (chunk.length === 0) break;
          await take(chunk);
        }
      } finally {
        closeSync(fd);
      }
    }
    return looked;
  }

  /** Every room whose file holds more than this process has read, yielding to the event loop as it goes (100,000 stats). */
  async roomsGrown(): Promise<string[]> {
    const slice = timeSlicer();
    const grown: string[] = [];
    for (const room of await this.roomsOnDisk()) {
      if (this.grown(room)) grown.push(room);
      await slice();
    }
    return grown;
  }

  private grown(room: string): boolean {
    try {
      return statSync(this.fileOf(room)).size > this.offsetOf(room);
    } catch {
      return false; // no such file (yet)
    }
  }

  /**
   * The event on the line at `offset`: `corrupt` if a whole line is there but is no
   * event (the file's damage), `missing` if there is no such line (the caller's offset is wrong).
   */
  readLine(room: string, offset: number, length: number): { event: ChatEvent } | { corrupt: string } | { missing: string } {
    const fd = this.handle(room);
    if (fd === null) return { missing: 'no such room file' };
    const buf = Buffer.alloc(length + 1);
    const got = readSync(fd, buf, 0, buf.length, offset);
    if (got !== buf.length || buf[length] !== 0x0a) return { missing: 'no whole line there' };
    const event = parseLine(buf.toString('utf8', 0, length));
    return typeof event === 'string' ? { corrupt: event } : { event };
  }

  /**
   * The room's posts in the last part of its file read so far, in file order: at
   * least `keep` posts when the file has them (reads backwards, doubling).
   */
  readRecentPosts(room: string, keep: number): ChatEvent[] {
    const end = this.offsetOf(room);
    const fd = end > 0 ? this.handle(room) : null;
    if (fd === null) return [];
    for (let span = 16 << 10; ; span *= 2) {
      const start = Math.max(0, end - span);
      const buf = Buffer.alloc(end - start);
      readSync(fd, buf, 0, buf.length, start);
      // A chunk that starts mid-file starts mid-line: skip to the first whole line.
      const from = start === 0 ? 0 : buf.indexOf(0x0a) + 1;
      const posts = parseRoomLog(buf.subarray(from)).events.filter((e) => e.kind === 'post');
      if (posts.length >= keep || start === 0) return posts;
    }
  }

  /**
   * Every create event in the part of a room file read so far: the room's key is the
   * earliest one's, and machines that created the same name apart hold several. Read in
   * 1 MB pieces; only lines naming the kind are parsed (a post's text cannot hold the
   * unescaped quotes).
   */
  readCreates(room: string): ChatEvent[] {
    const end = this.offsetOf(room);
    const fd = end > 0 ? this.handle(room) : null;
    if (fd === null) return [];
    const creates: ChatEvent[] = [];
    let rest = '';
    for (let at = 0; at < end; ) {
      const buf = Buffer.alloc(Math.min(1 << 20, end - at));
      const got = readSync(fd, buf, 0, buf.length, at);
      if (got <= 0) break;
      at += got;
      const lines = (rest + buf.toString('utf8', 0, got)).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.includes('"kind":"create"')) continue;
        const e = parseLine(line);
        if (typeof e !== 'string' && e.kind === 'create') creates.push(e);
      }
    }
    return creates;
  }

  /** The first event of a room file (its creation, normally). */
  readFirst(room: string): ChatEvent | null {
    const fd = this.handle(room);
    if (fd === null) return null;
    const buf = Buffer.alloc(Math.min(this.offsetOf(room), 64 << 10));
    readSync(fd, buf, 0, buf.length, 0);
    return parseRoomLog(buf).events[0] ?? null;
  }

  /**
   * The room file's cached handle (read, and append: O_APPEND), opened if need be;
   * null if there is no such file and `create` is false. Use it at once: a later
   * call may close it (a batch can touch more rooms than are kept open).
   */
  private handle(room: string, create = false): number | null {
    let fd = this.handles.get(room);
    if (fd !== undefined) {
      this.handles.delete(room);
      this.handles.set(room, fd);
      return fd;
    }
    try {
      fd = openSync(this.fileOf(room), constants.O_RDWR | constants.O_APPEND | (create ? constants.O_CREAT : 0), 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    this.handles.set(room, fd);
    if (this.handles.size > this.openHandles) {
      const [oldest, old] = this.handles.entries().next().value as [string, number];
      this.handles.delete(oldest);
      closeSync(old);
    }
    return fd;
  }

  /** Complete lines appended to a room since this process last read it. */
  async readNew(room: string): Promise<Stored[]> {
    return this.mutex.run(room, async () => {
      const fd = this.handle(room);
      return fd === null ? [] : this.readPast(room, fd, false);
    });
  }

  /**
   * One commit of `rooms`, run by `steps` under the machine lock, after a dead writer's unfinished commit is finished: `steps` reads what other
   * writers appended (catchUp), plans what to add (lib/core/commit-plan) and writes
   * the plan (write). A disk fault (full, read-only, out of descriptors:
   * lib/core/disk-fault) anywhere on the way refuses the whole commit with a
   * CommitError: nothing of the batch stays in the files, or, if even taking it back
   * failed, its record stays pending and the next commit finishes it before stamping
   * anything (so no seq is handed out twice).
   */
  async commit<T>(rooms: string[], steps: () => Promise<T>): Promise<T> {
    try {
      return await this.lock.run(() => this.mutex.runAll(rooms, async () => {
        this.recoverLocked();
        this.forgetOthersRooms(this.wal.position());
        this.walEnd = null; // until this commit is done
        const result = await steps();
        this.walEnd ??= this.wal.position();
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
      fresh.push(...this.readPast(room, this.handle(room, true) as number, true));
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
      for (const a of plan.appends) writeSync(this.handle(a.room, true) as number, a.data);
    } catch (cause) {
      // e.g. ENOSPC: take the whole batch back (its seqs are handed out again) and void its record.
      for (const a of plan.appends) ftruncateSync(this.handle(a.room, true) as number, a.offset);
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

  /** Another writer's applied commit record, or null if it cannot be read (retired, say). */
  readRecord(pos: WalPosition): WalRecord | null {
    return this.wal.readAt(pos);
  }

  /**
   * Makes the room files hold every durable write-ahead log record (after a
   * writer died mid-commit, or a reboot lost unsynced pages). Under the lock.
   * Returns whether every record was replayed (after a reboot).
   */
  async recover(): Promise<boolean> {
    return this.withLock(async () => this.recoverLocked(true));
  }

  /** Recovery under the lock: the whole of it the first time (or when asked), then only a dead writer's last record. */
  private recoverLocked(whole = false): boolean {
    const apply = (parts: WalPart[]): void => this.applyParts(parts);
    if (this.recovered && !whole) {
      this.wal.finishLast(apply);
      return false;
    }
    const replayed = this.wal.recover(apply);
    this.recovered = true;
    return replayed;
  }

  /**
   * The log's position at a moment when the room files hold every record before
   * it (under the lock, a dead writer's commit finished first): a scan of every
   * room file started after this covers the log up to it.
   */
  async walPosition(): Promise<WalPosition> {
    return this.withLock(async () => {
      this.recoverLocked();
      return this.wal.position();
    });
  }

  /** The rooms the log's records from `from` on name, or why the log cannot tell (lib/core/wal-position). */
  walRoomsSince(from: WalPosition): Set<string> | string {
    return this.wal.roomsSince(from);
  }

  /** The first log record from `from` on not within this process's offsets (all before `from` must be), or why the log cannot tell. */
  walCoveredFrom(from: WalPosition): WalPosition | string {
    return this.wal.coveredFrom(from, (room) => this.offsetOf(room));
  }

  /** Lets the log retire what the machine's new checkpoint no longer needs. */
  retireLog(): void {
    this.wal.retireOld();
  }

  /** Whether the log still holds the segment of `p`. */
  walHolds(p: WalPosition): boolean {
    return this.wal.holds(p);
  }

  /** Puts a record's bytes at their offsets, unless they are there already; a torn or different tail is cut first. */
  private applyParts(parts: WalPart[]): void {
    for (const { room, offset, data } of parts) {
      if (!isUsername(room)) {
        this.opts.log.error('write-ahead log names no valid room; skipped', { room: String(room).slice(0, 40) });
        continue;
      }
      const fd = openSync(this.fileOf(room), constants.O_RDWR | constants.O_CREAT, 0o600);
      try {
        const { size } = fstatSync(fd);
        if (size >= offset + data.length) {
          const there = Buffer.alloc(data.length);
          readSync(fd, there, 0, data.length, offset);
          if (there.equals(data)) continue;
        }
        let at = offset;
        if (size > offset) {
          this.opts.log.warn('rewrote a room file tail from the write-ahead log', { room, offset, bytes: size - offset });
          ftruncateSync(fd, offset);
        } else if (size < offset) {
          this.opts.log.error('room file shorter than the write-ahead log says; appended at its end', { room, offset, size });
          at = size;
        }
        writeSync(fd, data, 0, data.length, at);
      } finally {
        closeSync(fd);
      }
    }
  }

  /**
   * Reads complete lines from the room's offset to the end (or `maxBytes` of it).
   * With `repair` (only under the lock) a torn tail is cut off: its writer is dead,
   * since the lock is ours.
   */
  private readPast(room: string, fd: number, repair: boolean, maxBytes = Infinity): Stored[] {
    const offset = this.offsetOf(room);
    const { size } = fstatSync(fd);
    if (size <= offset) return [];
    const buf = Buffer.alloc(Math.min(size - offset, maxBytes));
    const bytesRead = readSync(fd, buf, 0, buf.length, offset);
    const parsed: ParsedLog = parseRoomLog(buf.subarray(0, bytesRead), offset);
    if (parsed.consumed === 0 && bytesRead < size - offset) {
      // One line longer than the chunk: read up to its end.
      return this.readPast(room, fd, repair, maxBytes * 2);
    }
    for (const bad of parsed.corrupt) {
      if (repair) this.quarantine(room, bad);
      else this.suspects.push({ room, ...bad }); // moved aside once a writer holds the lock
    }
    this.offsets.set(room, offset + parsed.consumed);
    if (repair && parsed.tail > 0 && offset + bytesRead === size) {
      ftruncateSync(fd, offset + parsed.consumed);
      this.opts.log.warn('repaired torn last line in room file', { room, offset: offset + parsed.consumed, bytes: parsed.tail });
    }
    return parsed.events.map((event, i) => ({ event, offset: parsed.offsets[i], length: parsed.lengths[i] }));
  }

  /** Moves aside the corrupt lines read without the lock (the caller holds it now). */
  quarantineSuspects(): void {
    const suspects = this.suspects;
    this.suspects = [];
    for (const { room, ...bad } of suspects) this.quarantine(room, bad);
  }

  /**
   * Copies a corrupt line to data/<machine>/quarantine/ (synced) and blanks it in
   * place (lib/core/quarantine), under the lock, if it is still there and still
   * corrupt. A disk fault leaves it in place, skipped, to be tried at the next load.
   */
  private quarantine(room: string, bad: CorruptLine): void {
    const dir = machinePath(this.machineDir, 'quarantine');
    const file = join(dir, quarantineFileName(room, bad.offset));
    try {
      const fd = openSync(this.fileOf(room), 'r+'); // not the O_APPEND handle: this writes in place
      try {
        const line = Buffer.alloc(bad.length + 1);
        if (readSync(fd, line, 0, line.length, bad.offset) !== line.length || line[bad.length] !== 0x0a) return;
        const still = parseRoomLog(line).corrupt.length === 1;
        if (!still) return;
        mkdirDurableSync(dir);
        writeFileSync(file, line.subarray(0, bad.length), { flush: true });
        fsyncDirSync(dir); // the copy durable before the line is blanked
        writeSync(fd, blankLine(bad.length), 0, bad.length, bad.offset);
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
      this.opts.log.warn('moved a corrupt room file line to quarantine; its event will be fetched from a peer', {
        room, offset: bad.offset, bytes: bad.length, reason: bad.reason, file,
      });
    } catch (err) {
      if (!isDiskFault(err)) throw err;
      this.opts.log.warn('skipped corrupt line in room file (quarantine failed)', { room, offset: bad.offset, reason: bad.reason, error: errorMessage(err) });
    }
  }

  fileOf(room: string): string {
    return join(this.roomsDir, room + SUFFIX);
  }

  /** Runs `fn` holding the machine's room lock: no writer appends meanwhile. */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.run(fn);
  }

  /**
   * Runs `fn` holding the machine's checkpoint lock, waiting as long as another
   * process builds (a first start over a long history takes a while); with
   * `wait` false, returns null at once if the lock is taken.
   */
  async withCheckpointLock<T>(fn: () => Promise<T>, wait = true): Promise<T | null> {
    const path = machinePath(this.machineDir, 'checkpointLock');
    const lost = (err: Error): void => this.opts.log.warn('lost the checkpoint lock while holding it', { error: err.message });
    for (;;) {
      try {
        return await this.locked(this.machineDir, path, 0, fn, CHECKPOINT_LOCK_STALE_MS, lost);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
        if (!wait) return null;
        await new Promise((resolve) => setTimeout(resolve, CHECKPOINT_LOCK_POLL_MS));
      }
    }
  }

  private async locked<T>(
    file: string,
    lockfilePath: string,
    retries: lockfile.LockOptions['retries'],
    fn: () => Promise<T>,
    stale: number,
    onCompromised: (err: Error) => void,
  ): Promise<T> {
    this.checkpointLockFs ??= ownedLockFs(lockFs(clockOffsetMs(this.opts.machineDir)));
    let compromised = false;
    const release = await lockfile.lock(file, {
      fs: this.checkpointLockFs,
      lockfilePath,
      realpath: false,
      stale,
      update: Math.floor(stale / 2),
      retries,
      onCompromised: (err) => {
        compromised = true;
        onCompromised(err);
      },
    });
    try {
      return await fn();
    } finally {
      await release().catch((err: Error) => {
        if (!compromised) throw err; // a lost lock has nothing left to release
      });
    }
  }
}

/** A commit refused for a disk fault: nothing of it was acknowledged, and nothing of it stays (see commit). */
export class CommitError extends Error {
  constructor(readonly cause: unknown) {
    super(`disk fault: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

/** The process's open-file limit (Linux), or a conservative guess. */
function openFilesLimit(): number {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return line ? Number(line[1]) : 1024;
  } catch {
    return 1024;
  }
}

/** The quarantined lines of a machine (lib/core/quarantine), as paths, for `fbs status`. */
export function quarantinedFiles(machineDir: string): string[] {
  const dir = machinePath(machineDir, 'quarantine');
  try {
    return readdirSync(dir).filter(isQuarantineFile).sort().map((name) => join(dir, name));
  } catch {
    return [];
  }
}
