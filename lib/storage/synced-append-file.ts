/**
 * A file that lines are appended to, each append resolved once it is on disk.
 * Lines that come while a write and its fsync are under way go out together in
 * the next one: one write and one fsync for all of them.
 */
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { fsyncDir } from './fsync-dir';

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

export class SyncedAppendFile {
  private fh: fs.FileHandle | null = null;
  private pending: string[] = [];
  private waiters: Waiter[] = [];
  private writing = false;

  constructor(readonly path: string) {}

  /** Opens the file for appending; `created`: it did not exist, so its name is made durable too. */
  async open(created: boolean): Promise<void> {
    this.fh = await fs.open(this.path, 'a', 0o600);
    if (created) await fsyncDir(dirname(this.path));
  }

  /** Appends a line (its newline added); resolves once it is on disk. */
  append(line: string): Promise<void> {
    this.pending.push(`${line}\n`);
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.writing) void this.flush();
    return done;
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = null;
  }

  /** Writes what is pending in one write and one fsync, until nothing is (what comes meanwhile goes in the next). */
  private async flush(): Promise<void> {
    this.writing = true;
    while (this.pending.length > 0) {
      const text = this.pending.join('');
      const waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      try {
        if (this.fh === null) throw new Error(`${this.path} not open`);
        await this.fh.write(text);
        await this.fh.datasync();
        waiters.forEach((w) => w.resolve());
      } catch (err) {
        waiters.forEach((w) => w.reject(err as Error));
      }
    }
    this.writing = false;
  }
}
