/**
 * Reads of a machine's write-ahead log, by any of its processes, without the room
 * lock: which rooms records name (for a load, a checkpoint, a commit's catch-up),
 * and one applied record (for a doorbell). A segment retired meanwhile reads as gone.
 */
import { decodeRecord, FRAME_BYTES, RecordState, type WalRecord } from '../core/wal-record';
import { firstUncovered, roomsAfter, type WalPosition } from '../core/wal-position';
import { listSegmentsOr, readBytes, readSegment, withSegment } from './wal-segments';

export class WalReader {
  constructor(readonly dir: string) {}

  /** The rooms the records from `from` on name (lib/core/wal-position), or why the log cannot tell. */
  roomsSince(from: WalPosition): Set<string> | string {
    return roomsAfter(from, listSegmentsOr(this.dir), (n) => readSegment(this.dir, n), 'skip');
  }

  /** The first record from `from` on not within `coveredTo` (records before `from` must be), or why the log cannot tell. */
  coveredFrom(from: WalPosition, coveredTo: (room: string) => number): WalPosition | string {
    return firstUncovered(from, listSegmentsOr(this.dir), (n) => readSegment(this.dir, n), coveredTo);
  }

  /** Whether the log still holds the segment of `p` (a walk from it can succeed). */
  holds(p: WalPosition): boolean {
    return listSegmentsOr(this.dir).includes(p.segment);
  }

  /**
   * The rooms the records of `segment` between `from` and `to` write to (void ones
   * too: their appends were taken back), or why they cannot be read. Only those
   * bytes are read (a commit asks this under the lock).
   */
  roomsBetween(segment: number, from: number, to: number): Set<string> | string {
    const bytes = withSegment(this.dir, segment, (fd) => readBytes(fd, from, to - from));
    // Those bytes walked as a log of their own: only the rooms are wanted, not positions.
    return roomsAfter({ segment: 0, offset: 0 }, [0], () => bytes, 'count');
  }

  /**
   * The applied record at `pos`, for another process of the machine that was told of
   * its commit; null if it is gone (its segment retired) or is not a whole applied record.
   */
  readAt(pos: WalPosition): WalRecord | null {
    return withSegment(this.dir, pos.segment, (fd) => {
      const head = readBytes(fd, pos.offset, 4);
      const buf = head && readBytes(fd, pos.offset, head.readUInt32LE(0) + FRAME_BYTES);
      const r = buf && decodeRecord(buf);
      return r === null || typeof r === 'string' || r.state !== RecordState.Applied ? null : r;
    });
  }
}
