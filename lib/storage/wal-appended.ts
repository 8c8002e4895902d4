/**
 * A record just appended to the write-ahead log, until its commit is done with it:
 * synced (the durability point: nothing is acknowledged before), then marked
 * applied, or void if its commit was taken back.
 */
import { fdatasync, fdatasyncSync, ftruncateSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { RecordState } from '../core/wal-record';
import type { WalPosition } from '../core/wal-position';
import { metrics } from '../common/metrics';

const fdatasyncAsync = promisify(fdatasync);

/** A record just written (its segment, and its start as `offset`), to be marked once its commit is done. */
export interface Appended extends WalPosition {
  fd: number;
  stateAt: number;
}

/** Waits for the record to be on disk; if that fails, the record is cut off again (never applied, never acknowledged). */
export async function syncAppended(r: Appended): Promise<void> {
  const synced = metrics.fsync.startTimer();
  try {
    await fdatasyncAsync(r.fd);
  } catch (err) {
    ftruncateSync(r.fd, r.offset);
    throw err;
  } finally {
    synced();
  }
}

/** Rewrites a record's state in place; a void one is synced, so a reboot can never apply it. */
export function markAppended(r: Appended, state: RecordState): void {
  writeSync(r.fd, Buffer.from([state]), 0, 1, r.stateAt);
  if (state === RecordState.Void) fdatasyncSync(r.fd); // before the lock is let go
}
