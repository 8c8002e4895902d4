/**
 * One record of a machine's write-ahead log: the bytes one commit appends to each
 * room file, and where. A commit is durable once its record is fsynced; the room
 * files get the same bytes afterwards and are synced lazily, so a batch costs one
 * fsync however many rooms it touches (etcd's WAL, Kafka's flush-less log).
 *
 * Layout, little-endian:
 *   u32 payload length | u32 CRC-32 of payload | payload | u8 state | u32 payload length
 *   payload = u32 meta length | meta JSON [[room, offset, bytes], ...] | the bytes, in order
 * The trailing length lets a writer read the last record from the end of its
 * segment; the state byte (not under the CRC) is rewritten in place once the room
 * files hold the record (applied) or once a failed commit was taken back (void).
 * Pure.
 */
import { crc32 } from 'node:zlib';

export const enum RecordState {
  /** Durable, but the room files may not hold it yet. */
  Pending = 0,
  /** Every room file holds its bytes (in the page cache at least). */
  Applied = 1,
  /** Its commit was taken back before anyone was answered: never to be applied. */
  Void = 2,
}

export interface WalPart {
  room: string;
  /** Where in the room file the bytes go. */
  offset: number;
  data: Buffer;
}

export interface WalRecord {
  parts: WalPart[];
  state: RecordState;
  /** Where the record starts in its segment. */
  at: number;
  /** Bytes of the whole record. */
  size: number;
}

/** Bytes a record adds around its payload: length and CRC before, state and length after. */
export const FRAME_BYTES = 4 + 4 + 1 + 4;
/** The trailer read from a segment's end: state, payload length. */
export const TRAILER_BYTES = 1 + 4;

export function encodeRecord(parts: WalPart[]): Buffer {
  const meta = Buffer.from(JSON.stringify(parts.map((p) => [p.room, p.offset, p.data.length])));
  const payloadLen = 4 + meta.length + parts.reduce((n, p) => n + p.data.length, 0);
  const out = Buffer.allocUnsafe(payloadLen + FRAME_BYTES);
  out.writeUInt32LE(payloadLen, 0);
  out.writeUInt32LE(meta.length, 8);
  meta.copy(out, 12);
  let at = 12 + meta.length;
  for (const p of parts) at += p.data.copy(out, at);
  out.writeUInt32LE(crc32(out.subarray(8, 8 + payloadLen)), 4);
  out.writeUInt8(RecordState.Pending, at);
  out.writeUInt32LE(payloadLen, at + 1);
  return out;
}

/** The payload length and state a segment's last 5 bytes give (or nothing usable). */
export function readTrailer(trailer: Buffer): { payloadLen: number; state: number } {
  return { state: trailer.readUInt8(0), payloadLen: trailer.readUInt32LE(1) };
}

/**
 * The record at the start of `buf`, or why it is not one (torn, corrupt): a reader
 * stops at the first bad record, whose writer died before it was fsynced.
 */
export function decodeRecord(buf: Buffer, at = 0): WalRecord | string {
  if (buf.length - at < FRAME_BYTES) return 'torn: shorter than a frame';
  const payloadLen = buf.readUInt32LE(at);
  const size = payloadLen + FRAME_BYTES;
  if (buf.length - at < size) return 'torn: shorter than its length';
  const payload = buf.subarray(at + 8, at + 8 + payloadLen);
  if (crc32(payload) !== buf.readUInt32LE(at + 4)) return 'fails its checksum';
  if (buf.readUInt32LE(at + size - 4) !== payloadLen) return 'trailer disagrees with header';
  const state = buf.readUInt8(at + size - 5);
  if (state > RecordState.Void) return `unknown state ${state}`;
  const metaLen = payload.readUInt32LE(0);
  let meta: unknown;
  try {
    meta = JSON.parse(payload.toString('utf8', 4, 4 + metaLen));
  } catch {
    return 'meta is not JSON';
  }
  if (!Array.isArray(meta)) return 'meta is not a list';
  const parts: WalPart[] = [];
  let from = 4 + metaLen;
  for (const m of meta as unknown[]) {
    if (!Array.isArray(m) || typeof m[0] !== 'string' || !isCount(m[1]) || !isCount(m[2])) return 'meta entry malformed';
    const [room, offset, length] = m as [string, number, number];
    if (from + length > payload.length) return 'meta runs past the payload';
    parts.push({ room, offset, data: payload.subarray(from, from + length) });
    from += length;
  }
  return { parts, state: state as RecordState, at, size };
}

/** Every whole record of a segment from `from` (a record's start), and where the valid prefix ends. */
export function decodeSegment(buf: Buffer, from = 0): { records: WalRecord[]; end: number; stop?: string } {
  const records: WalRecord[] = [];
  let at = from;
  while (at < buf.length) {
    const r = decodeRecord(buf, at);
    if (typeof r === 'string') return { records, end: at, stop: r };
    records.push(r);
    at += r.size;
  }
  return { records, end: at };
}

/** A safe non-negative integer: an offset or a length. */
export function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
