/**
 * Every room's key as the index knows it (room-key.ts: its deciding create), so a
 * join or leave is applied, and a post shown, only if it was made with its user's
 * key, on every machine alike. Compact, like the follow graph: per room one slot of
 * typed arrays holding the key's 16-byte fingerprint, whether it was proved, and
 * where its create sorts (stamp-columns.ts); about 35 bytes a room. Pure.
 */
import type { ChatEvent } from './event';
import { choiceOf, decide, type Choice } from './room-key';
import { NameTable } from './name-table';
import { resized, StampColumns, type StampArrays } from './stamp-columns';

const FP_BYTES = 16;

/** The table as plain arrays, for a checkpoint: `room` holds name ids of the table it was taken with. */
export interface KeyTableSnapshot extends StampArrays {
  room: Int32Array<ArrayBuffer>;
  fingerprint: Uint8Array<ArrayBuffer>;
  certified: Uint8Array<ArrayBuffer>;
}

export class RoomKeyTable {
  private readonly slots = new Map<number, number>();
  private count = 0;
  private room = new Int32Array(256);
  private fp = new Uint8Array(256 * FP_BYTES);
  private certified = new Uint8Array(256);
  /** Where each room's deciding create sorts. */
  private stamps = new StampColumns('room key table', 256);

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
    const origin = this.stamps.originAt(slot) ?? '';
    return { hlc: this.stamps.hlcAt(slot), origin, id: `create/${room}`, fingerprint: this.fingerprintOf(room) ?? '', certified: this.certified[slot] === 1 };
  }

  private set(slot: number, c: Choice): void {
    this.stamps.set(slot, c.hlc, c.origin);
    this.fp.set(Buffer.from(c.fingerprint, 'base64url'), slot * FP_BYTES);
    this.certified[slot] = c.certified ? 1 : 0;
  }

  private slotOf(room: string): number {
    const id = this.names.id(room);
    return id === undefined ? -1 : (this.slots.get(id) ?? -1);
  }

  private newSlot(room: string): number {
    if (this.count === this.room.length) {
      const n = this.count * 2;
      this.room = resized(this.room, n);
      this.fp = resized(this.fp, n * FP_BYTES);
      this.certified = resized(this.certified, n);
      this.stamps.resize(n);
    }
    const slot = this.count++;
    const id = this.names.intern(room);
    this.room[slot] = id;
    this.slots.set(id, slot);
    return slot;
  }

  snapshot(): KeyTableSnapshot {
    const n = this.count;
    return { room: this.room.slice(0, n), fingerprint: this.fp.slice(0, n * FP_BYTES), certified: this.certified.slice(0, n), ...this.stamps.slice(n) };
  }

  static fromSnapshot(s: KeyTableSnapshot, names: NameTable): RoomKeyTable {
    const t = new RoomKeyTable(names);
    const n = s.room.length;
    const size = Math.max(256, n);
    const origins = new NameTable();
    for (const o of s.origins) origins.intern(o);
    t.room = resized(s.room, size);
    t.fp = resized(s.fingerprint, size * FP_BYTES);
    t.certified = resized(s.certified, size);
    t.stamps = StampColumns.from('room key table', { origins: s.origins, wall: resized(s.wall, size), logical: resized(s.logical, size), origin: resized(s.origin, size) }, origins);
    t.count = n;
    for (let slot = 0; slot < n; slot++) t.slots.set(s.room[slot], slot);
    return t;
  }
}
