/**
 * Corrupt room file lines moved aside: each is copied to data/<machine>/quarantine/
 * (synced) and blanked in place (lib/core/quarantine), under the room lock, so a
 * peer can send its event again. A reader without the lock only notes what it
 * found (a suspect), to be moved once a writer holds the lock.
 */
import { closeSync, fdatasyncSync, openSync, readdirSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { blankLine, parseRoomLog, type CorruptLine } from '../core/room-log';
import { isQuarantineFile, quarantineFileName } from '../core/quarantine';
import { isDiskFault } from '../core/disk-fault';
import { errorMessage, type Logger } from '../common/log';
import { fsyncDirSync, mkdirDurableSync } from './fsync-dir';
import { machinePath } from './data-dir';
import type { RoomHandles } from './room-handles';

export class RoomQuarantine {
  /** Corrupt lines a scan without the lock found, to move under it. */
  private suspects: ({ room: string } & CorruptLine)[] = [];

  constructor(
    private readonly machineDir: string,
    private readonly handles: RoomHandles,
    private readonly log: Logger,
  ) {}

  /** A corrupt line read without the lock: moved aside by moveSuspects. */
  suspect(room: string, bad: CorruptLine): void {
    this.suspects.push({ room, ...bad });
  }

  /** Moves aside the corrupt lines read without the lock (the caller holds it now). */
  moveSuspects(): void {
    const suspects = this.suspects;
    this.suspects = [];
    for (const { room, ...bad } of suspects) this.move(room, bad);
  }

  /**
   * Copies a corrupt line to the quarantine folder (synced) and blanks it in place,
   * under the lock, if it is still there and still corrupt. A disk fault leaves it
   * in place, skipped, to be tried at the next load.
   */
  move(room: string, bad: CorruptLine): void {
    const dir = machinePath(this.machineDir, 'quarantine');
    const file = join(dir, quarantineFileName(room, bad.offset));
    try {
      const fd = openSync(this.handles.fileOf(room), 'r+'); // not the O_APPEND handle: this writes in place
      try {
        const line = Buffer.alloc(bad.length + 1);
        if (readSync(fd, line, 0, line.length, bad.offset) !== line.length || line[bad.length] !== 0x0a) return;
        const still = parseRoomLog(line).corrupt.length === 1;
        if (!still) return;
        mkdirDurableSync(dir);
        writeFileSync(file, line.subarray(0, bad.length), { flush: true });
        fsyncDirSync(dir); // the copy durable before the line is blanked
        writeSync(fd, blankLine(bad.length), 0, bad.length, bad.offset);
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
      this.log.warn('moved a corrupt room file line to quarantine; its event will be fetched from a peer', {
        room, offset: bad.offset, bytes: bad.length, reason: bad.reason, file,
      });
    } catch (err) {
      if (!isDiskFault(err)) throw err;
      this.log.warn('skipped corrupt line in room file (quarantine failed)', { room, offset: bad.offset, reason: bad.reason, error: errorMessage(err) });
    }
  }
}

/** The quarantined lines of a machine (lib/core/quarantine), as paths, for `fbs status`. */
export function quarantinedFiles(machineDir: string): string[] {
  const dir = machinePath(machineDir, 'quarantine');
  try {
    return readdirSync(dir).filter(isQuarantineFile).sort().map((name) => join(dir, name));
  } catch {
    return [];
  }
}
