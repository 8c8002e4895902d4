/**
 * The checkpoint of a machine's derived state (etcd's snapshot, beside its WAL):
 * the index (vector, rooms, follow graph, held-back events), the clock, and how far
 * each room file is covered, and the write-ahead log position from which on the
 * log names every room written past those offsets (lib/core/wal-position). A start
 * reads it and then only the rooms the log names after that position. Pure.
 *
 * Layout (version 4): magic, a small JSON header (vector, clock, held-back and parked
 * events, origins, counts), then binary sections each starting 8-aligned: the name table
 * (names joined by newlines), each name's file offset, each name's bytes written
 * (the storage quota's count), the directory's name ids, the follow graph's arrays,
 * the room key table's arrays (version 3 had none: such a checkpoint is refused and
 * rebuilt once); then a CRC-32 of all before it, so a torn or corrupt
 * file is refused as a whole (and rebuilt from the room files). A revived process
 * decodes 100,000 names with one split and uses the numeric sections in place, as
 * views of the buffer it read, where version 1's JSON of every name (three times)
 * and copied arrays took 1-2 s. A file of another version is refused like a corrupt one.
 */
import { crc32 } from 'node:zlib';
import { asEvent, type ChatEvent } from './event';
import type { IndexSnapshot } from './event-index';
import type { Hlc } from './hlc';
import { decodeNames, encodeNames } from './name-table';
import { asWalPosition, type WalPosition } from './wal-position';

const MAGIC = Buffer.from('FTCHK4\n');
/** The magic and the header's length. */
export const HEAD_BYTES = MAGIC.length + 4;

export interface Checkpoint {
  index: IndexSnapshot;
  clock: Hlc;
  /** Per name id of `index.names`: bytes of that room's file covered (whole lines only; 0: none). */
  offsets: Float64Array;
  /** Every log record before it lies within `offsets`; null: unknown (a load reads every room file). */
  wal: WalPosition | null;
}

export class CheckpointError extends Error {}

interface Header {
  vector: Record<string, number>;
  pending: ChatEvent[];
  clock: Hlc;
  /** Absent in checkpoints written before the log position was kept. */
  wal?: WalPosition | null;
  origins: string[];
  names: number;
  nameBytes: number;
  rooms: number;
  slots: number;
  parked: ChatEvent[];
  keyOrigins: string[];
  keys: number;
}

type Typed = Float64Array<ArrayBuffer> | Int32Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | Uint16Array<ArrayBuffer> | Uint8Array<ArrayBuffer>;

const ALIGN = 8;
const padded = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

export function encodeCheckpoint(c: Checkpoint): Buffer {
  const { index, offsets } = c;
  const g = index.graph;
  const names = encodeNames(index.names);
  const header: Header = {
    vector: index.vector,
    pending: index.pending,
    clock: c.clock,
    wal: c.wal,
    origins: g.origins,
    names: index.names.length,
    nameBytes: names.length,
    rooms: index.rooms.length,
    slots: g.room.length,
    parked: index.parked,
    keyOrigins: index.keys.origins,
    keys: index.keys.room.length,
  };
  const json = Buffer.from(JSON.stringify(header));
  const k = index.keys;
  const arrays = [offsets, index.authored, index.rooms, g.head, g.next, g.room, g.wall, g.logical, g.origin, g.joined, k.room, k.fingerprint, k.certified, k.wall, k.logical, k.origin] as Typed[];
  const start = padded(MAGIC.length + 4 + json.length);
  const end = arrays.reduce((at, a) => at + padded(a.byteLength), start + padded(names.length));
  // One buffer, each section copied in once (a concat of the sections, then of body and sum, held a second 49 MB copy at 2,000,000 pairs).
  const out = Buffer.alloc(end + 4);
  MAGIC.copy(out);
  out.writeUInt32LE(json.length, MAGIC.length);
  json.copy(out, MAGIC.length + 4);
  names.copy(out, start);
  let at = start + padded(names.length);
  for (const a of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += padded(a.byteLength);
  }
  out.writeUInt32LE(crc32(out.subarray(0, end)), end);
  return out;
}

/** Decodes a checkpoint; its arrays are views of `buf` (which must not be reused). */
export function decodeCheckpoint(buf: Buffer): Checkpoint {
  const end = buf.length - 4;
  buf = checkedAndAligned(buf);
  const { h, jsonEnd } = readHeader(buf, end);
  const s = new Sections(buf, padded(jsonEnd), end);
  const nameBlock = s.bytes(h.nameBytes);
  let names: string[];
  try {
    names = decodeNames(nameBlock, h.names);
  } catch (err) {
    return corrupt(`name table is wrong: ${(err as Error).message}`);
  }
  const n = h.slots;
  const c: Checkpoint = {
    clock: h.clock,
    wal: asWalPosition(h.wal),
    offsets: s.view(Float64Array, h.names).slice(), // a copy (small), so the buffer goes once the graph outgrows its arrays
    index: {
      authored: s.view(Float64Array, h.names),
      names,
      vector: h.vector,
      rooms: s.view(Int32Array, h.rooms),
      pending: (h.pending ?? []).map((x) => asEvent(x) ?? corrupt('holds a malformed event')),
      graph: {
        origins: h.origins,
        head: s.view(Int32Array, h.names),
        next: s.view(Int32Array, n),
        room: s.view(Int32Array, n),
        wall: s.view(Float64Array, n),
        logical: s.view(Uint32Array, n),
        origin: s.view(Uint16Array, n),
        joined: s.view(Uint8Array, n),
      },
      keys: {
        origins: h.keyOrigins,
        room: s.view(Int32Array, h.keys),
        fingerprint: s.view(Uint8Array, h.keys * 16),
        certified: s.view(Uint8Array, h.keys),
        wall: s.view(Float64Array, h.keys),
        logical: s.view(Uint32Array, h.keys),
        origin: s.view(Uint16Array, h.keys),
      },
      parked: h.parked.map((x) => asEvent(x) ?? corrupt('holds a malformed event')),
    },
  };
  if (!s.filled()) corrupt('sections do not fill it');
  return c;
}

function corrupt(why: string): never {
  throw new CheckpointError(`checkpoint ${why}`);
}

/** `buf` once its magic and CRC are checked, copied if it does not start 8-aligned. */
function checkedAndAligned(buf: Buffer): Buffer {
  if (buf.length < MAGIC.length + 8 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) corrupt('has no valid header (or another version)');
  const end = buf.length - 4;
  if (crc32(buf.subarray(0, end)) !== buf.readUInt32LE(end)) corrupt('fails its checksum (torn or corrupt)');
  // Views need their element size's alignment: a buffer from a pool may start anywhere.
  if (buf.byteOffset % ALIGN === 0) return buf;
  const copy = new Uint8Array(buf.length);
  copy.set(buf);
  return Buffer.from(copy.buffer);
}

/** The JSON header and where it ends; its counts checked. */
function readHeader(buf: Buffer, end: number): { h: Header; jsonEnd: number } {
  const jsonEnd = MAGIC.length + 4 + buf.readUInt32LE(MAGIC.length);
  if (jsonEnd > end) corrupt('header runs past the end');
  let h: Header;
  try {
    h = JSON.parse(buf.toString('utf8', MAGIC.length + 4, jsonEnd)) as Header;
  } catch {
    return corrupt('header is not JSON');
  }
  const counts = [h.names, h.nameBytes, h.rooms, h.slots, h.keys];
  if (!counts.every((n) => Number.isSafeInteger(n) && n >= 0) || !Array.isArray(h.origins) || !Array.isArray(h.keyOrigins) || !Array.isArray(h.parked)) corrupt('header has bad counts');
  return { h, jsonEnd };
}

/** The binary sections after the header, taken in order, each starting 8-aligned. */
class Sections {
  constructor(private readonly buf: Buffer, private at: number, private readonly end: number) {}

  bytes(count: number): Buffer {
    const from = this.at;
    const block = this.buf.subarray(from, from + count);
    this.take(count);
    return block;
  }

  view<T extends Typed>(make: { new (b: ArrayBuffer, offset: number, length: number): T; BYTES_PER_ELEMENT: number }, count: number): T {
    return new make(this.buf.buffer as ArrayBuffer, this.take(count * make.BYTES_PER_ELEMENT), count);
  }

  /** Whether the sections end exactly where the checksum starts. */
  filled(): boolean {
    return this.at === this.end;
  }

  /** The next section's offset in the underlying ArrayBuffer. */
  private take(bytes: number): number {
    const from = this.at;
    this.at = padded(this.at + bytes);
    if (this.at > this.end) corrupt('sections run past the end');
    return this.buf.byteOffset + from;
  }
}

/** Bytes of a checkpoint's start that hold its header, given at least its first HEAD_BYTES; null if it is none of this version. */
export function headerEnd(head: Buffer): number | null {
  if (head.length < HEAD_BYTES || !head.subarray(0, MAGIC.length).equals(MAGIC)) return null;
  return HEAD_BYTES + head.readUInt32LE(MAGIC.length);
}

/**
 * The log position a checkpoint's header (`headerEnd` bytes of it) names, unchecked
 * by its CRC: only a hint, for keeping the log segments a load will read.
 */
export function headerWal(head: Buffer): WalPosition | null {
  const end = headerEnd(head);
  if (end === null || head.length < end) return null;
  try {
    return asWalPosition((JSON.parse(head.toString('utf8', HEAD_BYTES, end)) as Partial<Header>).wal);
  } catch {
    return null;
  }
}
