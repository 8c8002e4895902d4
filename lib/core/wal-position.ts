/**
 * A position in a machine's write-ahead log, and what it tells a load. A checkpoint
 * records the position before which every record's bytes lie within the room
 * offsets it holds (etcd's snapshot index into its WAL); a load then reads only the
 * rooms the records from there on name, instead of listing and stat-ing every room
 * file (100,000 of them at 10,000,000 events: 0.5-1.5 s). Where the log cannot
 * tell (a segment retired or missing, a record unreadable before the log's end),
 * the answer is why, and the caller reads every room file instead. Pure: segments
 * come through `read`.
 */
import { isUsername } from './usernames';
import { decodeSegment, isCount, RecordState, type WalRecord } from './wal-record';

export interface WalPosition {
  segment: number;
  /** Where the next record starts in that segment. */
  offset: number;
}

/** A segment's bytes, or null if it is gone. */
export type ReadSegment = (segment: number) => Buffer | null;

/** The position a checkpoint header holds, if it is one (older checkpoints hold none). */
export function asWalPosition(v: unknown): WalPosition | null {
  if (typeof v !== 'object' || v === null) return null;
  const { segment, offset } = v as Record<string, unknown>;
  return isCount(segment) && isCount(offset) ? { segment, offset } : null;
}

/**
 * The rooms named by the records from `from` to the log's end (`segments`: the
 * numbers present, ascending), or why the log cannot say. Pending records count
 * (their bytes may land any moment, or were landed by whoever finished them).
 * Void ones were appended and then taken back: a load, which wants the rooms whose
 * lines are past its offsets, skips them (`voids: 'skip'`); a writer catching up
 * with the others counts them (`'count'`): those room files changed under it.
 */
export function roomsAfter(from: WalPosition, segments: number[], read: ReadSegment, voids: 'count' | 'skip'): Set<string> | string {
  const rooms = new Set<string>();
  let bad: string | null = null;
  const walked = walk(from, segments, read, (r) => {
    if (voids === 'skip' && r.state === RecordState.Void) return false;
    for (const p of r.parts) {
      if (isUsername(p.room)) rooms.add(p.room);
      else bad = 'a log record names no valid room';
    }
    return bad !== null;
  });
  return typeof walked === 'string' ? walked : (bad ?? rooms);
}

/**
 * The position of the first record from `from` on whose bytes lie past `coveredTo`
 * of their room (the log's end if there is none), or why the log cannot say. Every
 * record before `from` must be covered already: the result is a checkpoint's
 * position for those offsets.
 */
export function firstUncovered(from: WalPosition, segments: number[], read: ReadSegment, coveredTo: (room: string) => number): WalPosition | string {
  const walked = walk(from, segments, read, (r) => r.state !== RecordState.Void && r.parts.some((p) => p.offset + p.data.length > coveredTo(p.room)));
  return typeof walked === 'string' ? walked : walked.at;
}

/**
 * Visits each record from `from` on until `stop` says so; returns where it stopped
 * (that record's start, or the end of the last whole record), or why the records
 * cannot all be known. A torn record at the very end is a writer appending now (its
 * room bytes come after it): the log ends before it. Anything else unreadable, or a
 * segment missing on the way, makes the log unusable.
 */
function walk(from: WalPosition, segments: number[], read: ReadSegment, stop: (r: WalRecord) => boolean): { at: WalPosition } | string {
  const first = segments.indexOf(from.segment);
  if (first < 0) return `log segment ${from.segment} is gone (retired)`;
  const todo = segments.slice(first);
  let at = from;
  for (const [i, segment] of todo.entries()) {
    if (i > 0 && segment !== todo[i - 1] + 1) return `log segment ${todo[i - 1] + 1} is missing`;
    const buf = read(segment);
    if (buf === null) return `log segment ${segment} is gone (retired)`;
    const start = i === 0 ? from.offset : 0;
    if (start > buf.length) return `log segment ${segment} is shorter than the position (${buf.length} < ${start})`;
    const { records, end, stop: why } = decodeSegment(buf, start);
    for (const r of records) if (stop(r)) return { at: { segment, offset: r.at } };
    if (why !== undefined && !(i === todo.length - 1 && why.startsWith('torn'))) return `log segment ${segment} has an unreadable record at ${end} (${why})`;
    at = { segment, offset: end };
  }
  return { at };
}