/**
 * Every room's key as the index knows it (room-key.ts: its deciding create), so a
 * join or leave is applied, and a post shown, only if it was made with its user's
 * key, on every machine alike. Compact, like the follow graph: per room one slot of
 * typed arrays holding the key's 16-byte fingerprint, whether it was proved, and
 * where its create sorts (wall, logical, origin); about 35 bytes a room. Pure.
 */
import type { ChatEvent } from './event';
import { choiceOf, decide, type Choice } from './room-key';
import { NameTable } from './name-table';

const FP_BYTES = 16;

/** The table as plain arrays, for a checkpoint: `room` holds name ids of the table it was taken with. */
export interface KeyTableSnapshot {
  origins: string[];
  room: Int32Array<ArrayBuffer>;
  fingerprint: Uint8Array<ArrayBuffer>;
  certified: Uint8Array<ArrayBuffer>;
  wall: Float64Array<ArrayBuffer>;
  logical: Uint32Array<ArrayBuffer>;
  origin: Uint16Array<ArrayBuffer>;
}

export class RoomKeyTable {
  private readonly origins = new NameTable();
  private readonly slots = new Map<number, number>();
  private count = 0;
  private room = new Int32Array(256);
  private fp = new Uint8Array(256 * FP_BYTES);
  private certified = new Uint8Array(256);
  private wall = new Float64Array(256);
  private logical = new Uint32Array(256);
  private origin = new Uint16Array(256);

  constructor(private readonly names: NameTable) {}

  /** The fingerprint of a room's key, or null if no create of it carries one (here, yet). */
  fingerprintOf(room: string): string | null {
    const slot = this.slotOf(room);
    return slot < 0 ? null : Buffer.from(this.fp.buffer, slot * FP_BYTES, FP_BYTES).toString('base64url');
  }

  /** Takes a create; returns whether its room's key changed (from none, or from another key). */
  offer(e: ChatEvent, proved: (e: ChatEvent) => boolean): boolean {
    const slot = this.slotOf(e.room);
    const current = slot < 0 ? null : this.choice(slot, e.room);
    const next = decide(current, e, proved, choiceOf);
    if (!next || next === current) return false;
    const before = slot < 0 ? null : this.fingerprintOf(e.room);
    this.set(slot < 0 ? this.newSlot(e.room) : slot, next);
    return before !== this.fingerprintOf(e.room);
  }

  private choice(slot: number, room: string): Choice {
    const origin = this.origins.name(this.origin[slot]) ?? '';
    return { hlc: { wall: this.wall[slot], logical: this.logical[slot] }, origin, id: `create/${room}`, fingerprint: this.fingerprintOf(room) ?? '', certified: this.certified[slot] === 1 };
  }

  private set(slot: number, c: Choice): void {
    const o = this.origins.intern(c.origin);
    if (o > 0xffff) throw new Error('room key table: more than 65,536 origins');
    this.fp.set(Buffer.from(c.fingerprint, 'base64url'), slot * FP_BYTES);
    this.certified[slot] = c.certified ? 1 : 0;
    this.wall[slot] = c.hlc.wall;
    this.logical[slot] = c.hlc.logical;
    this.origin[slot] = o;
  }

  private slotOf(room: string): number {
    const id = this.names.id(room);
    return id === undefined ? -1 : (this.slots.get(id) ?? -1);
  }

  private newSlot(room: string): number {
    if (this.count === this.room.length) this.grow(this.count * 2);
    const slot = this.count++;
    const id = this.names.intern(room);
    this.room[slot] = id;
    this.slots.set(id, slot);
    return slot;
  }

  private grow(n: number): void {
    const grown = <T extends Int32Array<ArrayBuffer> | Uint8Array<ArrayBuffer> | Float64Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | Uint16Array<ArrayBuffer>>(a: T, per = 1): T => {
      const b = new (a.constructor as new (n: number) => T)(n * per);
      b.set(a);
      return b;
    };
    this.room = grown(this.room);
    this.fp = grown(this.fp, FP_BYTES);
    this.certified = grown(this.certified);
    this.wall = grown(this.wall);
    this.logical = grown(this.logical);
    this.origin = grown(this.origin);
  }

  snapshot(): KeyTableSnapshot {
    const n = this.count;
    return {
      origins: this.origins.slice(),
      room: this.room.slice(0, n),
      fingerprint: this.fp.slice(0, n * FP_BYTES),
      certified: this.certified.slice(0, n),
      wall: this.wall.slice(0, n),
      logical: this.logical.slice(0, n),
      origin: this.origin.slice(0, n),
    };
  }

  static fromSnapshot(s: KeyTableSnapshot, names: NameTable): RoomKeyTable {
    const t = new RoomKeyTable(names);
    const n = s.room.length;
    t.grow(Math.max(256, n));
    for (const o of s.origins) t.origins.intern(o);
    t.room.set(s.room);
    t.fp.set(s.fingerprint);
    t.certified.set(s.certified);
    t.wall.set(s.wall);
    t.logical.set(s.logical);
    t.origin.set(s.origin);
    t.count = n;
    for (let slot = 0; slot < n; slot++) t.slots.set(s.room[slot], slot);
    return t;
  }
}
