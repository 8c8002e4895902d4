/**
 * A name (a new, renamed or removed file) is durable once its directory is
 * fsynced; a file's own fsync does not cover it under POSIX (ext4 and XFS often do
 * more, ftchat does not count on it). test/tools/lazyfs holds every writer to this.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, promises as fs, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** Makes a directory's entries (a new or renamed file's name) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsyncDir, waiting on the event loop: for what is rare (a new log segment, a new data dir). */
export function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** mkdir -p whose every new directory is durable in its parent before anything is put in it. */
export function mkdirDurableSync(dir: string): void {
  if (isDir(dir)) return;
  mkdirDurableSync(dirname(dir));
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // made by another process meanwhile: it syncs it too
  }
  fsyncDirSync(dirname(dir));
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
