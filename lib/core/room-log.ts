/**
 * The room file format: one JSON event per line, append-only. Parsing is pure and
 * tolerant: only bytes up to the last newline count (a line still being written,
 * or torn by a kill mid-append, is left as a tail), and a corrupt line elsewhere
 * is reported and skipped rather than failing the whole file. A line of spaces is
 * one moved to quarantine (blanked in place, so no other line moves): it is no event.
 */
import { asEvent, type ChatEvent } from './event';

export interface CorruptLine {
  offset: number; // byte offset of the line in the file
  /** Bytes of the line, without its newline. */
  length: number;
  reason: string;
}

export interface ParsedLog {
  events: ChatEvent[];
  /** Where each event's line starts in the file, and its length without the newline (parallel to `events`). */
  offsets: number[];
  lengths: number[];
  /** Bytes consumed: everything up to and including the last newline. */
  consumed: number;
  /** Bytes after the last newline: an unfinished or torn line. */
  tail: number;
  corrupt: CorruptLine[];
}

const NEWLINE = 0x0a;

/** Parses `buf`, which starts at byte `base` of the file. */
export function parseRoomLog(buf: Buffer, base = 0): ParsedLog {
  const events: ChatEvent[] = [];
  const offsets: number[] = [];
  const lengths: number[] = [];
  const corrupt: CorruptLine[] = [];
  let start = 0;
  for (let nl = buf.indexOf(NEWLINE, start); nl !== -1; nl = buf.indexOf(NEWLINE, start)) {
    if (nl > start && !isBlank(buf, start, nl)) {
      const text = buf.toString('utf8', start, nl);
      const event = parseLine(text);
      if (typeof event === 'string') corrupt.push({ offset: base + start, length: nl - start, reason: event });
      else {
        events.push(event);
        offsets.push(base + start);
        lengths.push(nl - start);
      }
    }
    start = nl + 1;
  }
  return { events, offsets, lengths, consumed: start, tail: buf.length - start, corrupt };
}

const SPACE = 0x20;

/** The same number of spaces: what a quarantined line is replaced with. */
export function blankLine(length: number): Buffer {
  return Buffer.alloc(length, SPACE);
}

function isBlank(buf: Buffer, start: number, end: number): boolean {
  if (buf[start] !== SPACE) return false; // an event's line starts with '{'
  for (let i = start + 1; i < end; i++) if (buf[i] !== SPACE) return false;
  return true;
}

export function parseLine(text: string): ChatEvent | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  return asEvent(value) ?? 'not an event';
}
