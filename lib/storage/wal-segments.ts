/**
 * The write-ahead log's segment files: data/<machine>/wal/<n>.log, numbered in
 * order. Listing, reading and creating them; what their records say is
 * lib/core/wal-record's, and who writes them is write-ahead-log.ts's.
 */
import { closeSync, constants, ftruncateSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDirSync } from './fsync-dir';

export function segmentPath(dir: string, n: number): string {
  return join(dir, `${String(n).padStart(12, '0')}.log`);
}

/** The segments present, oldest first. */
export function listSegments(dir: string): number[] {
  return readdirSync(dir)
    .map((name) => /^(\d{12})\.log$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** The segments present; none if the log's directory is not there (yet). */
export function listSegmentsOr(dir: string): number[] {
  try {
    return listSegments(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** A whole segment, or null if it is gone (retired meanwhile). */
export function readSegment(dir: string, n: number): Buffer | null {
  try {
    return readFileSync(segmentPath(dir, n));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** `fn` over a segment opened for reading, or null if it cannot be opened (retired). */
export function withSegment<T>(dir: string, n: number, fn: (fd: number) => T): T | null {
  let fd: number;
  try {
    fd = openSync(segmentPath(dir, n), 'r');
  } catch {
    return null;
  }
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** `length` bytes of an open segment from `at`, or null if they cannot all be read. */
export function readBytes(fd: number, at: number, length: number): Buffer | null {
  const buf = Buffer.allocUnsafe(length);
  return readSync(fd, buf, 0, length, at) === length ? buf : null;
}

/** Cuts a segment file back to `end` bytes (a torn record past it). */
export function truncateSegment(dir: string, n: number, end: number): void {
  const fd = openSync(segmentPath(dir, n), 'r+');
  try {
    ftruncateSync(fd, end);
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens a segment (not O_APPEND: states are rewritten in place), creating it if need
 * be: a new one's name is made durable (the log dir fsynced) before any record goes
 * in, or a power cut could take the whole segment with its acknowledged records.
 */
export function openSegment(dir: string, n: number): number {
  const path = segmentPath(dir, n);
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
