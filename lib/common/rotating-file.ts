/**
 * A log file rotated by size, logrotate-style: `name` is always the live file (so
 * `tail -F` follows it), `name.1` the one before, up to `name.<keep>`; older go.
 * Written synchronously (a line is on its way before a SIGKILL can take it), by one
 * process per file: a machine's processes each have their own (role and slot).
 * pino-roll numbers the live file instead (the name to follow changes at every roll)
 * and rolls in a callback after the write; this is the few lines we need.
 */
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** A machine's processes log a few lines a second at most: 10 MB x 5 kept is days of history per process. */
export const LOG_FILE_BYTES = 10 * 1024 * 1024;
export const LOG_FILES_KEPT = 5;

export class RotatingFile {
  private fd = -1;
  private size = 0;
  private readonly path: string;

  constructor(
    private readonly dir: string,
    name: string,
    private readonly maxBytes = LOG_FILE_BYTES,
    private readonly keep = LOG_FILES_KEPT,
  ) {
    this.path = join(dir, name);
  }

  write(line: string): void {
    try {
      if (this.fd < 0) this.open();
      if (this.size > 0 && this.size + Buffer.byteLength(line) > this.maxBytes) this.rotate();
      this.size += writeSync(this.fd, line);
    } catch {
      // A full or read-only disk must not take the process down with its log: the line is
      // lost (the terminal's copy, if any, still shows it) and the next one tries again.
      try {
        this.close();
      } catch {
        /* already unusable */
      }
    }
  }

  private open(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
  }

  private rotate(): void {
    this.close();
    // Another process of this slot (a hung one, replaced) may have rotated already.
    if ((statSync(this.path, { throwIfNoEntry: false })?.size ?? 0) >= this.maxBytes) {
      for (let i = this.keep - 1; i >= 1; i--) renameIfExists(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      renameIfExists(this.path, `${this.path}.1`);
    }
    this.open();
  }

  private close(): void {
    const fd = this.fd;
    this.fd = -1;
    if (fd >= 0) closeSync(fd);
  }
}

function renameIfExists(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
