/**
 * A machine's data dir has an incarnation: a random id made when the dir is first
 * used. Writer origins include it ("m2.k3f9a1.w0"), so a machine restarted with an
 * empty or lost data dir starts fresh origins instead of reusing (origin, seq)
 * slots that its peers already hold for other events.
 *
 * The file appears whole or not at all, and durable before any event is stamped
 * with its id: written to a temp file, fsynced, linked into place (exclusive: when
 * several processes start at once, one id wins), the directory fsynced. A power cut
 * leaves the id, or no file (a fresh id then, as for a new dir), never an empty one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, linkSync, openSync, readSync, renameSync, rmSync, writeSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { fsyncDirSync, mkdirDurableSync } from './fsync-dir';
import { machinePath } from './data-dir';

export function incarnationOf(machineDir: string): string {
  const file = machinePath(machineDir, 'incarnation');
  mkdirDurableSync(machineDir);
  const found = readIncarnation(file);
  if (typeof found === 'string') return found;
  if (found === null) {
    place(file, randomBytes(3).toString('hex'), 'link'); // another process's may win: read below
  } else {
    // Unreadable: its bytes never reached the disk (an older release did not sync them), so its id
    // was never durable either. A fresh one takes its place, the same in every process that finds
    // it so (made from the file's inode), so processes starting together agree.
    place(file, createHash('sha256').update(`${found.dev}.${found.ino}.${found.ctimeMs}`).digest('hex').slice(0, 6), 'rename');
  }
  const id = readIncarnation(file);
  if (typeof id !== 'string') throw new Error(`corrupt incarnation file ${file}: remove it to start fresh origins`);
  return id;
}

/** The id in the file; null if there is none; the file's stat if it holds no id. */
function readIncarnation(file: string): string | null | Stats {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const stat = fstatSync(fd);
    const buf = Buffer.alloc(64);
    const id = buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0)).trim();
    return /^[0-9a-f]{6}$/.test(id) ? id : stat;
  } finally {
    closeSync(fd);
  }
}

/** Puts `id` at `file` durably: `link` only if there is no file yet, `rename` over what is there. */
function place(file: string, id: string, how: 'link' | 'rename'): void {
  const tmp = `${file}.tmp.${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, id);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    if (how === 'rename') renameSync(tmp, file);
    else linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process's id won
  } finally {
    rmSync(tmp, { force: true });
  }
  fsyncDirSync(dirname(file)); // the name, ours or the winner's, durable before its id is used
}
