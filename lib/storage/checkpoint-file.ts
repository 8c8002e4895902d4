/**
 * data/<machine>/checkpoint: written whole to a temp file, fsynced, renamed over
 * the old one and the directory fsynced, so a kill at any point leaves the old
 * checkpoint or the new one, never a mix. One that fails to decode is ignored: the
 * room files are the truth and a full scan rebuilds it.
 */
import { closeSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint, HEAD_BYTES, headerEnd, headerWal, type Checkpoint } from '../core/checkpoint-format';
import type { WalPosition } from '../core/wal-position';
import { replaceFileDurably } from './durable-file';
import { machinePath } from './data-dir';

export function checkpointPath(machineDir: string): string {
  return machinePath(machineDir, 'checkpoint');
}

/** The machine's checkpoint, or why there is none to use. */
export function readCheckpoint(machineDir: string): Checkpoint | string {
  let buf: Buffer;
  try {
    buf = readFileSync(checkpointPath(machineDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'no checkpoint yet';
    throw err;
  }
  try {
    return decodeCheckpoint(buf);
  } catch (err) {
    if (err instanceof CheckpointError) return err.message;
    throw err;
  }
}

/**
 * The log position the machine's checkpoint names, from its header alone (a few
 * hundred bytes, not the whole file); null if there is none to read.
 */
export function readCheckpointWal(machineDir: string): WalPosition | null {
  let fd: number;
  try {
    fd = openSync(checkpointPath(machineDir), 'r');
  } catch {
    return null;
  }
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    readSync(fd, head, 0, HEAD_BYTES, 0);
    const end = headerEnd(head);
    if (end === null || end > MAX_HEADER_BYTES) return null;
    const header = Buffer.alloc(end);
    readSync(fd, header, 0, end, 0);
    return headerWal(header);
  } finally {
    closeSync(fd);
  }
}

/** A header longer than this (held-back events only make it long) is not read for its log position. */
const MAX_HEADER_BYTES = 16 << 20;

/** Writes the checkpoint atomically; returns its size in bytes. The fsyncs run off the event loop. */
export async function writeCheckpoint(machineDir: string, c: Checkpoint): Promise<number> {
  const data = encodeCheckpoint(c);
  await replaceFileDurably(checkpointPath(machineDir), data);
  return data.length;
}

export function removeCheckpoint(machineDir: string): void {
  rmSync(checkpointPath(machineDir), { force: true });
}
