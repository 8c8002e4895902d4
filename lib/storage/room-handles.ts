/**
 * The room files kept open (resumes, catch-ups, doorbells, commits): opening and
 * closing each room of every batch cost more than the append itself, and a
 * catch-up's batches touch thousands of rooms each. The least recently used is
 * closed past a share of the process's descriptor limit (node raises it to the
 * hard limit at start: 524,288 under systemd), at most MAX_OPEN_HANDLES.
 */
import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const SUFFIX = '.jsonl';
const MAX_OPEN_HANDLES = 65_536;

/** The room's file name in the rooms folder. */
function roomFileName(room: string): string {
  return room + SUFFIX;
}

/** The room a file name in the rooms folder holds, or null. */
export function roomOfFileName(name: string): string | null {
  return name.endsWith(SUFFIX) ? name.slice(0, -SUFFIX.length) : null;
}

export class RoomHandles {
  private readonly handles = new Map<string, number>(); // room -> fd, least recently used first
  private readonly max: number;

  /** `share`: of the descriptor limit, kept open at most (see RoomFilesOptions.handleShare). */
  constructor(readonly roomsDir: string, share = 1 / 4) {
    this.max = Math.min(MAX_OPEN_HANDLES, Math.max(256, Math.floor(openFilesLimit() * share)));
  }

  fileOf(room: string): string {
    return join(this.roomsDir, roomFileName(room));
  }

  /**
   * The room file's handle (read, and append: O_APPEND), opened if need be; null
   * if there is no such file and `create` is false. Use it at once: a later call
   * may close it (a batch can touch more rooms than are kept open).
   */
  get(room: string, create = false): number | null {
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
    if (this.handles.size > this.max) {
      const [oldest, old] = this.handles.entries().next().value as [string, number];
      this.handles.delete(oldest);
      closeSync(old);
    }
    return fd;
  }

  /** The room file's handle, created if there is none. */
  getOrCreate(room: string): number {
    return this.get(room, true) as number;
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
