/**
 * The per-origin index format: record N of data/<machine>/index/<origin>.idx says
 * where the origin's event with seq N+1 lies (room file, byte offset, length) and
 * carries its ordering key, kind and author's hash, so a merge or a filter runs on
 * records alone and reads only the lines it returns. Fixed-size records make
 * "seq -> place" one pread (Kafka's offset index, without the sparseness). Pure.
 */
import type { EventKind } from './event';

export const RECORD_BYTES = 64;
const ROOM_BYTES = 32; // usernames are at most 32 ASCII characters
const PRESENT = 1;
const KIND_CODES: Record<EventKind, number> = { create: 1, post: 2, join: 3, leave: 4 };
const KINDS: (EventKind | undefined)[] = [undefined, 'create', 'post', 'join', 'leave'];

export interface IndexRecord {
  room: string;
  offset: number;
  /** The line's length, without its newline. */
  length: number;
  kind: EventKind;
  wall: number;
  logical: number;
  /** nameHash(author): filters a user's own joins and leaves without reading lines. */
  authorHash: number;
}

/** FNV-1a, 32 bits. */
export function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function encodeRecord(r: IndexRecord, buf: Buffer, at: number): void {
  buf.fill(0, at, at + RECORD_BYTES);
  buf.write(r.room, at, ROOM_BYTES, 'latin1');
  buf.writeDoubleLE(r.wall, at + 32);
  buf.writeUInt32LE(r.logical, at + 40);
  buf.writeUIntLE(r.offset, at + 44, 6);
  buf.writeUInt32LE(r.length, at + 50);
  buf[at + 54] = KIND_CODES[r.kind];
  buf[at + 55] = PRESENT;
  buf.writeUInt32LE(r.authorHash, at + 56);
}

/** The record at `at`, or null where none was written (a hole, or past the end). */
export function decodeRecord(buf: Buffer, at: number): IndexRecord | null {
  if (at + RECORD_BYTES > buf.length || buf[at + 55] !== PRESENT) return null;
  const kind = KINDS[buf[at + 54]];
  if (!kind) return null;
  let end = at;
  while (end < at + ROOM_BYTES && buf[end] !== 0) end++;
  return {
    room: buf.toString('latin1', at, end),
    wall: buf.readDoubleLE(at + 32),
    logical: buf.readUInt32LE(at + 40),
    offset: buf.readUIntLE(at + 44, 6),
    length: buf.readUInt32LE(at + 50),
    kind,
    authorHash: buf.readUInt32LE(at + 56),
  };
}
