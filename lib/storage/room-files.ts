/**
 * The room files of one machine: data/<machine>/rooms/<room>.jsonl, append-only.
 * Writers append under one proper-lockfile lock per machine (a whole group commit
 * takes it once) and fsync before anyone is answered. Under the lock a writer
 * first reads what others appended since it last looked, and cuts off a torn tail
 * left by a writer killed mid-append. Readers never need the lock: they take
 * only complete lines.
 *
 * Opening, reading, appending and truncating only touch the page cache, so they
 * are synchronous: a few microseconds each, where a round trip through libuv's
 * thread pool costs far more on a busy machine (a commit touches every room of its
 * batch). Only the waits for the disk, the fsyncs, run off the event loop.
 */
import { closeSync, existsSync, fdatasync, fstatSync, ftruncateSync, openSync, promises as fs, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import lockfile from 'proper-lockfile';
import { eventToLine, type ChatEvent } from '../core/event';
import { parseLine, parseRoomLog, type ParsedLog } from '../core/room-log';
import { RoomOffsets } from '../core/room-offsets';
import { KeyedMutex } from '../common/keyed-mutex';
import type { Logger } from '../common/log';
import { clockOffsetMs, lockFs } from './lock-clock';
import { ownedLockFs } from './lock-owner';

const SUFFIX = '.jsonl';

export interface RoomFilesOptions {
  machineDir: string;
  log: Logger;
  lockStaleMs: number;
  /** Called if the lock was lost while held (e.g. this process was paused past `stale`). */
  onCompromised: (err: Error) => void;
}

/** The one lock a machine's writers append under. */
export function roomLockPath(machineDir: string): string {
  return join(machineDir, 'rooms.lock');
}

/** An event as it lies in its room file. */
export interface Stored {
  event: ChatEvent;
  offset: number;
  /** Bytes of its line, without the newline. */
  length: number;
}

/** Room files kept open for reading lines by offset (resumes, catch-ups). */
const READ_HANDLES = 128;
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

export class RoomFiles {
  readonly machineDir: string;
  readonly roomsDir: string;
  private readonly lockPath: string;
  private offsets = new RoomOffsets();
  private readonly mutex = new KeyedMutex();
  private readonly readers = new Map<string, number>(); // room -> fd, least recently used first
  private lockFs?: ReturnType<typeof lockFs>;

  constructor(private readonly opts: RoomFilesOptions) {
    this.machineDir = opts.machineDir;
    this.roomsDir = join(opts.machineDir, 'rooms');
    this.lockPath = roomLockPath(opts.machineDir);
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

  /** Every room's read offset, per id of the first `names` of the offsets' name table, for a checkpoint. */
  offsetsSnapshot(names: number): Float64Array {
    return this.offsets.snapshot(names);
  }

  /** Starts from a checkpoint's offsets (over the journal's name table): only what lies past them is read again. */
  restoreOffsets(offsets: RoomOffsets): void {
    this.offsets = offsets;
  }

  /**
   * Reads what every room file holds past this process's offsets, without the lock
   * (only whole lines count; a torn tail is cut by the next writer under the lock),
   * a chunk at a time: `take` gets each chunk's events and may yield between chunks.
   */
  async scanNew(take: (stored: Stored[]) => Promise<void>): Promise<void> {
    for (const room of await this.roomsOnDisk()) {
      let size: number;
      try {
        size = statSync(this.fileOf(room)).size;
      } catch {
        continue;
      }
      if (size <= this.offsetOf(room)) continue;
      const fd = openSync(this.fileOf(room), 'r');
      try {
        for (;;) {
          const chunk = this.catchUp(room, fd, false, SCAN_CHUNK_BYTES);
          if (chunk.length === 0) break;
          await take(chunk);
        }
      } finally {
        closeSync(fd);
      }
    }
  }

  /**
   * The event on the line at `offset`: `corrupt` if a whole line is there but is no
   * event (the file's damage), `missing` if there is no such line (the caller's offset is wrong).
   */
  readLine(room: string, offset: number, length: number): { event: ChatEvent } | { corrupt: string } | { missing: string } {
    const fd = this.reader(room);
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
    const fd = end > 0 ? this.reader(room) : null;
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

  /** The first event of a room file (its creation, normally). */
  readFirst(room: string): ChatEvent | null {
    const fd = this.reader(room);
    if (fd === null) return null;
    const buf = Buffer.alloc(Math.min(this.offsetOf(room), 64 << 10));
    readSync(fd, buf, 0, buf.length, 0);
    return parseRoomLog(buf).events[0] ?? null;
  }

  private reader(room: string): number | null {
    let fd = this.readers.get(room);
    if (fd !== undefined) {
      this.readers.delete(room);
      this.readers.set(room, fd);
      return fd;
    }
    try {
      fd = openSync(this.fileOf(room), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    this.readers.set(room, fd);
    if (this.readers.size > READ_HANDLES) {
      const [oldest, old] = this.readers.entries().next().value as [string, number];
      this.readers.delete(oldest);
      closeSync(old);
    }
    return fd;
  }

  /** Complete lines appended to a room since this process last read it. */
  async readNew(room: string): Promise<Stored[]> {
    return this.mutex.run(room, async () => {
      let fd;
      try {
        fd = openSync(this.fileOf(room), 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
      try {
        return this.catchUp(room, fd, false);
      } finally {
        closeSync(fd);
      }
    });
  }

  /**
   * One group commit. Under the machine lock, for each room in turn: read what
   * others appended (`ingest` takes it), let `prepare` decide the lines to add
   * (it assigns seqs, so rooms are written in seq order), append them; then fsync
   * every file touched and return what was written.
   */
  async commit(
    rooms: string[],
    ingest: (fresh: Stored[]) => void,
    prepare: (room: string) => ChatEvent[],
  ): Promise<Stored[]> {
    return this.withLock(() =>
      this.mutex.runAll(rooms, async () => {
        const written: Stored[] = [];
        const open: number[] = [];
        let created = false;
        try {
          for (const room of rooms) {
            const path = this.fileOf(room);
            const isNew = !existsSync(path);
            created ||= isNew;
            const fd = openSync(path, 'a+');
            open.push(fd);
            if (isNew) this.offsets.set(room, 0);
            ingest(this.catchUp(room, fd, true));
            const lines = prepare(room);
            if (lines.length === 0) continue;
            const texts = lines.map(eventToLine); // once: the append and each line's length come from it
            const data = Buffer.from(`${texts.join('\n')}\n`);
            const before = this.offsetOf(room);
            try {
              writeSync(fd, data);
            } catch (cause) {
              // e.g. ENOSPC: take back a partial append so the file stays whole; what the
              // earlier rooms got is written and reported, the rest of the batch is not.
              try {
                ftruncateSync(fd, before);
              } catch {
                /* the next writer's catch-up cuts the torn tail */
              }
              throw new CommitError(written, cause);
            }
            this.offsets.set(room, before + data.length);
            let at = before;
            lines.forEach((event, i) => {
              const length = Buffer.byteLength(texts[i]);
              written.push({ event, offset: at, length });
              at += length + 1;
            });
          }
          await Promise.all(open.map((fd) => fdatasyncAsync(fd)));
          if (created) await fsyncDir(this.roomsDir);
        } finally {
          for (const fd of open) closeSync(fd);
        }
        return written;
      }),
    );
  }

  /**
   * Reads complete lines from the room's offset to the end (or `maxBytes` of it).
   * With `repair` (only under the lock) a torn tail is cut off: its writer is dead,
   * since the lock is ours.
   */
  private catchUp(room: string, fd: number, repair: boolean, maxBytes = Infinity): Stored[] {
    const offset = this.offsetOf(room);
    const { size } = fstatSync(fd);
    if (size <= offset) return [];
    const buf = Buffer.alloc(Math.min(size - offset, maxBytes));
    const bytesRead = readSync(fd, buf, 0, buf.length, offset);
    const parsed: ParsedLog = parseRoomLog(buf.subarray(0, bytesRead), offset);
    if (parsed.consumed === 0 && bytesRead < size - offset) {
      // One line longer than the chunk: read up to its end.
      return this.catchUp(room, fd, repair, maxBytes * 2);
    }
    for (const bad of parsed.corrupt) {
      this.opts.log.warn('skipped corrupt line in room file', { room, offset: bad.offset, reason: bad.reason });
    }
    this.offsets.set(room, offset + parsed.consumed);
    if (repair && parsed.tail > 0 && offset + bytesRead === size) {
      ftruncateSync(fd, offset + parsed.consumed);
      this.opts.log.warn('repaired torn last line in room file', { room, offset: offset + parsed.consumed, bytes: parsed.tail });
    }
    return parsed.events.map((event, i) => ({ event, offset: parsed.offsets[i], length: parsed.lengths[i] }));
  }

  fileOf(room: string): string {
    return join(this.roomsDir, room + SUFFIX);
  }

  /** Runs `fn` holding the machine's room lock: no writer appends meanwhile. */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const retries = { retries: 400, minTimeout: 1, maxTimeout: 20, factor: 1.3 };
    return this.locked(this.roomsDir, this.lockPath, retries, fn, this.opts.lockStaleMs, this.opts.onCompromised);
  }

  /**
   * Runs `fn` holding the machine's checkpoint lock, waiting as long as another
   * process builds (a first start over a long history takes a while); with
   * `wait` false, returns null at once if the lock is taken.
   */
  async withCheckpointLock<T>(fn: () => Promise<T>, wait = true): Promise<T | null> {
    const path = join(this.machineDir, 'checkpoint.lock');
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
    this.lockFs ??= ownedLockFs(lockFs(clockOffsetMs(this.opts.machineDir)));
    let compromised = false;
    const release = await lockfile.lock(file, {
      fs: this.lockFs,
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

/** A commit that failed part-way: `written` reached the files (in seq order), the rest did not. */
export class CommitError extends Error {
  constructor(readonly written: Stored[], readonly cause: unknown) {
    super(`room file append failed: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

const fdatasyncAsync = promisify(fdatasync);

/** Makes a new file's directory entry durable. */
async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
