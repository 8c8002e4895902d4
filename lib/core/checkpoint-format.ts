/**
 * The checkpoint of a machine's derived state (etcd's snapshot, beside its WAL):
 * the index (vector, rooms, follow graph, held-back events), the clock, and how far
 * each room file is covered. A start reads it and scans only what was appended
 * after those offsets. Layout: magic, a JSON header, the follow graph's typed
 * arrays raw, and a CRC-32 of all before it, so a torn or corrupt file is refused
 * as a whole (and rebuilt from the room files). Pure.
 */
import { crc32 } from 'node:zlib';
import { asEvent, type ChatEvent } from './event';
import type { IndexSnapshot } from './event-index';
import type { Hlc } from './hlc';

const MAGIC = Buffer.from('FTCHK1\n');

export interface Checkpoint {
  index: IndexSnapshot;
  clock: Hlc;
  /** room -> bytes of its file covered (whole lines only). */
  offsets: Map<string, number>;
}

export class CheckpointError extends Error {}

interface Header {
  vector: Record<string, number>;
  rooms: string[];
  pending: ChatEvent[];
  clock: Hlc;
  offsets: Record<string, number>;
  names: string[];
  origins: string[];
  slots: number;
}

/** Bytes per follow-graph slot in the file: next, room, wall, logical, origin, joined. */
const SLOT_BYTES = 4 + 4 + 8 + 4 + 2 + 1;

export function encodeCheckpoint(c: Checkpoint): Buffer {
  const g = c.index.graph;
  const header: Header = {
    vector: c.index.vector,
    rooms: c.index.rooms,
    pending: c.index.pending,
    clock: c.clock,
    offsets: Object.fromEntries(c.offsets),
    names: g.names,
    origins: g.origins,
    slots: g.room.length,
  };
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length);
  const arrays = [g.head, g.next, g.room, g.wall, g.logical, g.origin, g.joined].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  const body = Buffer.concat([MAGIC, len, json, ...arrays]);
  const sum = Buffer.alloc(4);
  sum.writeUInt32LE(crc32(body));
  return Buffer.concat([body, sum]);
}

export function decodeCheckpoint(buf: Buffer): Checkpoint {
  const bad = (why: string): never => {
    throw new CheckpointError(`checkpoint ${why}`);
  };
  if (buf.length < MAGIC.length + 8 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) bad('has no valid header');
  const body = buf.subarray(0, buf.length - 4);
  if (crc32(body) !== buf.readUInt32LE(buf.length - 4)) bad('fails its checksum (torn or corrupt)');
  const jsonLen = buf.readUInt32LE(MAGIC.length);
  let at = MAGIC.length + 4 + jsonLen;
  if (at > body.length) bad('header runs past the end');
  let h: Header;
  try {
    h = JSON.parse(buf.toString('utf8', MAGIC.length + 4, at)) as Header;
  } catch {
    return bad('header is not JSON');
  }
  const n = h.slots;
  const names = Array.isArray(h.names) ? h.names.length : -1;
  if (!Number.isSafeInteger(n) || n < 0 || names < 0 || body.length - at !== names * 4 + n * SLOT_BYTES) bad('graph arrays have the wrong size');
  const take = <T>(make: (n: number) => T & { buffer: ArrayBufferLike; byteLength: number }, bytes: number, count = n): T => {
    const arr = make(count);
    Buffer.from(arr.buffer).set(body.subarray(at, at + count * bytes));
    at += count * bytes;
    return arr;
  };
  const pending = (h.pending ?? []).map((x) => asEvent(x) ?? bad('holds a malformed event'));
  return {
    clock: h.clock,
    offsets: new Map(Object.entries(h.offsets)),
    index: {
      vector: h.vector,
      rooms: h.rooms,
      pending,
      graph: {
        names: h.names,
        origins: h.origins,
        head: take((k) => new Int32Array(k), 4, names),
        next: take((k) => new Int32Array(k), 4),
        room: take((k) => new Int32Array(k), 4),
        wall: take((k) => new Float64Array(k), 8),
        logical: take((k) => new Uint32Array(k), 4),
        origin: take((k) => new Uint16Array(k), 2),
        joined: take((k) => new Uint8Array(k), 1),
      },
    },
  };
}
