/**
 * Makes the room files hold every durable write-ahead log record, under the room
 * lock: after a writer died mid-commit, or a reboot lost unsynced pages. The whole
 * log the first time (or when asked), then only a dead writer's last record.
 */
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { isUsername } from '../core/usernames';
import type { WalPart } from '../core/wal-record';
import type { Logger } from '../common/log';
import type { WriteAheadLog } from './write-ahead-log';
import type { RoomHandles } from './room-handles';

export class WalRecovery {
  /** The log was checked against the room files (at load, or by the first commit: a load that met a full disk leaves it to that). */
  private recoveredOnce = false;

  constructor(
    private readonly wal: WriteAheadLog,
    private readonly handles: RoomHandles,
    private readonly log: Logger,
  ) {}

  /** Under the lock: returns whether every record was replayed (after a reboot). */
  recover(whole = false): boolean {
    const apply = (parts: WalPart[]): void => this.applyParts(parts);
    const replayed = this.wal.recover(apply, this.recoveredOnce && !whole);
    this.recoveredOnce = true;
    return replayed;
  }

  /** Puts a record's bytes at their offsets, unless they are there already; a torn or different tail is cut first. */
  private applyParts(parts: WalPart[]): void {
    for (const { room, offset, data } of parts) {
      if (!isUsername(room)) {
        this.log.error('write-ahead log names no valid room; skipped', { room: String(room).slice(0, 40) });
        continue;
      }
      const fd = openSync(this.handles.fileOf(room), constants.O_RDWR | constants.O_CREAT, 0o600);
      try {
        const { size } = fstatSync(fd);
        if (size >= offset + data.length) {
          const there = Buffer.alloc(data.length);
          readSync(fd, there, 0, data.length, offset);
          if (there.equals(data)) continue;
        }
        let at = offset;
        if (size > offset) {
          this.log.warn('rewrote a room file tail from the write-ahead log', { room, offset, bytes: size - offset });
          ftruncateSync(fd, offset);
        } else if (size < offset) {
          this.log.error('room file shorter than the write-ahead log says; appended at its end', { room, offset, size });
          at = size;
        }
        writeSync(fd, data, 0, data.length, at);
      } finally {
        closeSync(fd);
      }
    }
  }
}
