/**
 * The write-ahead log's side of recovery, under the machine's room lock: the
 * records whose bytes the room files may lack, handed to `apply`, and torn tails
 * cut off. After a reboot every record (the room files' unsynced pages may be
 * gone); otherwise only the last one, pending only if its writer died mid-commit.
 */
import { fstatSync, ftruncateSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSegment, FRAME_BYTES, readTrailer, RecordState, TRAILER_BYTES, type WalPart } from '../core/wal-record';
import type { Logger } from '../common/log';
import { markAppended } from './wal-appended';
import { listSegments, readSegment, segmentPath, truncateSegment } from './wal-segments';

const BOOT_ID = '/proc/sys/kernel/random/boot_id';

export type ApplyParts = (parts: WalPart[]) => void;

/** The segment records are appended to, open. */
export interface OpenSegment {
  fd: number;
  segment: number;
}

/** If the machine rebooted since the log was last checked, replays every record; returns whether it did. */
export function replayIfRebooted(dir: string, log: Logger, apply: ApplyParts): boolean {
  const boot = currentBoot();
  if (boot !== null && readFileOr(join(dir, 'boot')) === boot) return false;
  replayAll(dir, log, apply);
  writeFileSync(join(dir, 'boot'), boot ?? '');
  return true;
}

/** Finishes the last record if its writer died before marking it, cutting off a record torn by a writer killed mid-append. */
export function finishLast(dir: string, open: OpenSegment, log: Logger, apply: ApplyParts): void {
  const { fd, segment } = open;
  const size = fstatSync(fd).size;
  if (size === 0) return;
  const trailer = Buffer.alloc(TRAILER_BYTES);
  readSync(fd, trailer, 0, TRAILER_BYTES, size - TRAILER_BYTES);
  const { state, payloadLen } = readTrailer(trailer);
  const at = size - payloadLen - FRAME_BYTES;
  if (state !== RecordState.Pending && at >= 0) {
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, at);
    if (head.readUInt32LE(0) === payloadLen) return; // whole, and done with
  }
  // Pending, or torn: read the segment's valid prefix (rare: only after a writer died).
  const { records, end, stop } = decodeSegment(readFileSync(segmentPath(dir, segment)));
  if (end < size) {
    log.warn('cut off a torn write-ahead log record', { segment, at: end, bytes: size - end, reason: stop });
    ftruncateSync(fd, end);
  }
  const last = records[records.length - 1];
  if (last?.state === RecordState.Pending) {
    apply(last.parts);
    markAppended({ fd, segment, offset: last.at, stateAt: last.at + last.size - TRAILER_BYTES }, RecordState.Applied);
    log.warn('finished a commit whose writer died', { rooms: last.parts.length, bytes: last.size });
  }
}

function replayAll(dir: string, log: Logger, apply: ApplyParts): void {
  let records = 0;
  for (const n of listSegments(dir)) {
    const buf = readSegment(dir, n) ?? Buffer.alloc(0);
    const seg = decodeSegment(buf);
    for (const r of seg.records) {
      if (r.state === RecordState.Void) continue;
      apply(r.parts);
      records++;
    }
    if (seg.end < buf.length) {
      log.warn('cut off a torn write-ahead log record', { segment: n, at: seg.end, bytes: buf.length - seg.end, reason: seg.stop });
      truncateSegment(dir, n, seg.end);
    }
  }
  if (records > 0) log.info('checked the write-ahead log against the room files after a reboot', { records });
}

/**
 * The kernel's boot id. FTCHAT_BOOT_ID_FILE names another file to read it from: the
 * power-loss tests' disk (test/tools/lazyfs) gives each of its mounts, each boot after
 * a power cut, an id of its own.
 */
function currentBoot(): string | null {
  try {
    return readFileSync(process.env.FTCHAT_BOOT_ID_FILE || BOOT_ID, 'utf8').trim();
  } catch {
    return null; // not Linux: check everything at every load
  }
}

function readFileOr(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}
