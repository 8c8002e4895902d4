/**
 * The origin index's files, data/<machine>/index/<origin>.idx, kept open, and which
 * of them were written since their last sync. Any process of the machine may create
 * one: it is made without truncating what another made meanwhile.
 */
import { closeSync, fdatasync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fsyncDir, mkdirDurableSync } from './fsync-dir';
import { machinePath } from './data-dir';

const fdatasyncAsync = promisify(fdatasync);

export class OriginIndexFiles {
  readonly dir: string;
  private readonly fds = new Map<string, number>();
  private readonly unsynced = new Set<string>();

  constructor(machineDir: string) {
    this.dir = machinePath(machineDir, 'index');
  }

  /** The origin's file, open; null if it has none and `create` is false. */
  open(origin: string, create: boolean): number | null {
    let fd = this.fds.get(origin);
    if (fd !== undefined) return fd;
    const path = join(this.dir, `${origin}.idx`);
    try {
      fd = openSync(path, 'r+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (!create) return null;
      mkdirDurableSync(this.dir);
      fd = openSync(path, 'a+'); // create without truncating what another process made meanwhile
      closeSync(fd);
      fd = openSync(path, 'r+');
    }
    this.fds.set(origin, fd);
    return fd;
  }

  /** Writes `length` bytes of `buf` at `at` of the origin's file (page cache only until `sync`). */
  write(origin: string, buf: Buffer, length: number, at: number): void {
    writeSync(this.open(origin, true) as number, buf, 0, length, at);
    this.unsynced.add(origin);
  }

  /** Makes what was written durable, and the files' names: any process of the machine may have made one. */
  async sync(): Promise<void> {
    const fds = [...this.unsynced].map((origin) => this.open(origin, true) as number);
    this.unsynced.clear();
    await Promise.all(fds.map((fd) => fdatasyncAsync(fd)));
    if (fds.length > 0) await fsyncDir(this.dir);
  }

  /** Closes them all and deletes the directory. */
  remove(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
    this.unsynced.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
