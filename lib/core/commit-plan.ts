/**
 * The plan of one commit, pure: given the events a batch adds to each room and
 * where each room file ends, the bytes appended to each (each line encoded once),
 * where every line will lie and its origin-index record, and what the commit tells
 * the machine's other readers. The appends are also the write-ahead log record's
 * parts. Writing the plan (lib/storage/commit-writer: the log record, its fsync,
 * the room files) and publishing it (lib/storage/event-publisher) are the storage's.
 */
import { eventToLine, type ChatEvent } from './event';
import { nameHash, type IndexRecord } from './index-record';
import type { WalPart } from './wal-record';

const NEWLINE = Buffer.from('\n');

/** An event as it lies in its room file. */
export interface Stored {
  event: ChatEvent;
  offset: number;
  /** Bytes of its line, without the newline. */
  length: number;
}

/** What a batch adds to one room: its events, in seq order per origin, after the file's `end`. */
export interface RoomBatch {
  room: string;
  end: number;
  events: ChatEvent[];
}

export interface CommitPlan {
  /** Per room with something to add, the bytes appended at its end: the log record's parts. */
  appends: WalPart[];
  /** Every line, in the order written, where it will lie. */
  stored: Stored[];
}

/**
 * `shipped`: lines a peer sent as it stores them (checked: core/stored-line), appended
 * as they came; every other event is encoded here, once.
 */
export function planCommit(batches: RoomBatch[], shipped?: ReadonlyMap<ChatEvent, Buffer>): CommitPlan {
  const appends: WalPart[] = [];
  const stored: Stored[] = [];
  for (const { room, end, events } of batches) {
    if (events.length === 0) continue;
    const parts: Buffer[] = [];
    let at = end;
    for (const event of events) {
      const line = shipped?.get(event) ?? Buffer.from(eventToLine(event));
      stored.push({ event, offset: at, length: line.length });
      parts.push(line, NEWLINE);
      at += line.length + 1;
    }
    appends.push({ room, offset: end, data: Buffer.concat(parts, at - end) });
  }
  return { appends, stored };
}

/** Where a stored event lies, as its origin's index records it. */
export function indexRecordOf({ event: e, offset, length }: Stored): IndexRecord {
  return { room: e.room, offset, length, kind: e.kind, wall: e.hlc.wall, logical: e.hlc.logical, authorHash: nameHash(e.author) };
}

/** What a commit tells the machine's other readers (its doorbell): the rooms it wrote, and the top seq per origin. */
export function commitNews(stored: Stored[]): { rooms: string[]; upTo: Record<string, number> } {
  const upTo: Record<string, number> = {};
  for (const { event: e } of stored) upTo[e.origin] = Math.max(e.seq, upTo[e.origin] ?? 0);
  return { rooms: [...new Set(stored.map((s) => s.event.room))], upTo };
}
