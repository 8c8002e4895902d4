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
import { closeSync, existsSync, fdatasync, fstatSync, ftruncateSync, openSync, promises as fs, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import lockfile from 'proper-lockfile';
import { eventsToText, type ChatEvent } from '../core/event';
import { parseRoomLog } from '../core/room-log';
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

export class RoomFiles {
  readonly machineDir: string;
  readonly roomsDir: string;
  private readonly lockPath: string;
  private readonly offsets = new Map<string, number>();
  private readonly mutex = new KeyedMutex();
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

  /** Reads every room file from the start, repairing torn tails (under the lock). */
  async loadAll(): Promise<ChatEvent[]> {
    return this.withLock(async () => {
      const rooms = await this.roomsOnDisk();
      const out: ChatEvent[] = [];
      await this.mutex.runAll(rooms, async () => {
        for (const room of rooms) {
          this.offsets.set(room, 0);
          const fd = openSync(this.fileOf(room), 'r+');
          try {
            out.push(...this.catchUp(room, fd, true));
          } finally {
            closeSync(fd);
          }
        }
      });
      return out;
    });
  }

  /** Complete lines appended to a room since this process last read it. */
  async readNew(room: string): Promise<ChatEvent[]> {
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
    ingest: (fresh: ChatEvent[]) => void,
    prepare: (room: string) => ChatEvent[],
  ): Promise<ChatEvent[]> {
    return this.withLock(() =>
      this.mutex.runAll(rooms, async () => {
        const written: ChatEvent[] = [];
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
            const data = Buffer.from(eventsToText(lines));
            const before = this.offsets.get(room) ?? 0;
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
            written.push(...lines);
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
   * Reads complete lines from the room's offset to the end. With `repair` (only
   * under the lock) a torn tail is cut off: its writer is dead, since the lock is ours.
   */
  private catchUp(room: string, fd: number, repair: boolean): ChatEvent[] {
    const offset = this.offsets.get(room) ?? 0;
    const { size } = fstatSync(fd);
    if (size <= offset) return [];
    const buf = Buffer.alloc(size - offset);
    const bytesRead = readSync(fd, buf, 0, buf.length, offset);
    const parsed = parseRoomLog(buf.subarray(0, bytesRead), offset);
    for (const bad of parsed.corrupt) {
      this.opts.log.warn('skipped corrupt line in room file', { room, offset: bad.offset, reason: bad.reason });
    }
    this.offsets.set(room, offset + parsed.consumed);
    if (repair && parsed.tail > 0) {
      ftruncateSync(fd, offset + parsed.consumed);
      this.opts.log.warn('repaired torn last line in room file', { room, offset: offset + parsed.consumed, bytes: parsed.tail });
    }
    return parsed.events;
  }

  fileOf(room: string): string {
    return join(this.roomsDir, room + SUFFIX);
  }

  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    this.lockFs ??= ownedLockFs(lockFs(clockOffsetMs(this.opts.machineDir)));
    const release = await lockfile.lock(this.roomsDir, {
      fs: this.lockFs,
      lockfilePath: this.lockPath,
      realpath: false,
      stale: this.opts.lockStaleMs,
      update: Math.floor(this.opts.lockStaleMs / 2),
      retries: { retries: 400, minTimeout: 1, maxTimeout: 20, factor: 1.3 },
      onCompromised: this.opts.onCompromised,
    });
    try {
      return await fn();
    } finally {
      await release();
    }
  }
}

/** A commit that failed part-way: `written` reached the files (in seq order), the rest did not. */
export class CommitError extends Error {
  constructor(readonly written: ChatEvent[], readonly cause: unknown) {
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
