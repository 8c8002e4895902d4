/**
 * Who follows which room. A user's membership of a room is decided by their latest
 * join or leave by the ordering key, whatever order the events arrive in, so every
 * machine derives the same graph from the same events. Everyone follows their own room.
 *
 * Compact, because every process holds all of it: names are ids of the process's
 * name table (shared with the room directory and the file offsets) and each (user, room) pair is one slot in typed arrays holding the deciding
 * event's key (wall, logical, origin) and whether it was a join: about 19 bytes a
 * pair, where Maps of Sets of strings plus the deciding events took hundreds.
 * (hlc, origin) identifies an event: one origin never stamps two events alike.
 */
import type { ChatEvent } from './event';
import type { Hlc } from './hlc';
import { NameTable } from './name-table';

/** A (user, room) pair's deciding join or leave: which it was, and its key (hlc, origin). */
export interface Membership {
  joined: boolean;
  hlc: Hlc;
  origin: string;
}

/** The graph as plain arrays, for a checkpoint; names are ids of the table it was taken with. */
export interface GraphSnapshot {
  origins: string[];
  /** Per name id: its first slot as a user (-1: none). */
  head: Int32Array<ArrayBuffer>;
  /** Per slot: the user's next slot (-1: last), the room, the deciding key and whether it joined. */
  next: Int32Array<ArrayBuffer>;
  room: Int32Array<ArrayBuffer>;
  wall: Float64Array<ArrayBuffer>;
  logical: Uint32Array<ArrayBuffer>;
  origin: Uint16Array<ArrayBuffer>;
  joined: Uint8Array<ArrayBuffer>;
}

export class FollowGraph {
  private origins = new NameTable();
  private count = 0;
  private head = new Int32Array(1024).fill(-1);
  private next = new Int32Array(1024);
  private room = new Int32Array(1024);
  private wall = new Float64Array(1024);
  private logical = new Uint32Array(1024);
  private origin = new Uint16Array(1024);
  private joined = new Uint8Array(1024);

  constructor(readonly names: NameTable = new NameTable()) {}

  /** Applies a join or leave; returns whether membership changed. */
  apply(e: ChatEvent): boolean {
    if (e.kind !== 'join' && e.kind !== 'leave') return false;
    const u = this.intern(e.author);
    const r = this.intern(e.room);
    const o = this.origins.intern(e.origin);
    if (o > 0xffff) throw new Error('follow graph: more than 65,536 origins'); // a Uint16Array holds them
    let slot = this.slot(u, r);
    const was = slot >= 0 && this.joined[slot] === 1;
    if (slot < 0) slot = this.addSlot(u, r);
    else if (this.compareSlot(slot, e.hlc.wall, e.hlc.logical, e.origin) >= 0) return false;
    this.wall[slot] = e.hlc.wall;
    this.logical[slot] = e.hlc.logical;
    this.origin[slot] = o;
    this.joined[slot] = e.kind === 'join' ? 1 : 0;
    return was !== (e.kind === 'join');
  }

  isFollowing(user: string, room: string): boolean {
    if (user === room) return true;
    const u = this.names.id(user);
    const r = this.names.id(room);
    if (u === undefined || r === undefined) return false;
    const slot = this.slot(u, r);
    return slot >= 0 && this.joined[slot] === 1;
  }

  /** The deciding join or leave of (user, room), if the user ever joined or left it. */
  membership(user: string, room: string): Membership | undefined {
    const u = this.names.id(user);
    const r = this.names.id(room);
    if (u === undefined || r === undefined) return undefined;
    const slot = this.slot(u, r);
    return slot < 0 ? undefined : this.membershipAt(slot);
  }

  /** Every room the user ever joined or left, with the deciding event (own room aside). */
  memberships(user: string): Map<string, Membership> {
    const out = new Map<string, Membership>();
    for (let slot = this.headOf(this.names.id(user)); slot >= 0; slot = this.next[slot]) out.set(this.names.name(this.room[slot]), this.membershipAt(slot));
    return out;
  }

  /** Rooms the user follows, own room included, sorted. */
  following(user: string): string[] {
    const rooms = new Set([user]);
    for (let slot = this.headOf(this.names.id(user)); slot >= 0; slot = this.next[slot]) {
      if (this.joined[slot] === 1) rooms.add(this.names.name(this.room[slot]));
    }
    return [...rooms].sort();
  }

  /** Join/leave pairs held (current members and past ones). */
  get size(): number {
    return this.count;
  }

  /** The graph over the first `names` ids of its table (all it uses: ids are taken in order). */
  snapshot(names = this.names.size): GraphSnapshot {
    const n = this.count;
    const head = new Int32Array(names).fill(-1);
    head.set(this.head.subarray(0, Math.min(names, this.head.length)));
    return {
      origins: this.origins.slice(),
      head,
      next: this.next.slice(0, n),
      room: this.room.slice(0, n),
      wall: this.wall.slice(0, n),
      logical: this.logical.slice(0, n),
      origin: this.origin.slice(0, n),
      joined: this.joined.slice(0, n),
    };
  }

  /**
   * Restores a snapshot over `names`, using its arrays in place (a checkpoint's are
   * views of the file just read: no copy), after checking every slot names only
   * what exists (a few ms for millions; a checkpoint is derived data, but a wrong
   * one must not send a walk out of bounds).
   */
  static fromSnapshot(s: GraphSnapshot, names: NameTable): FollowGraph {
    const g = new FollowGraph(names);
    const n = s.room.length;
    for (const a of [s.next, s.wall, s.logical, s.origin, s.joined]) if (a.length !== n) throw new Error('graph snapshot: arrays differ in length');
    if (s.head.length > names.size) throw new Error('graph snapshot: arrays differ in length');
    if (!inRange(s.head, -1, n) || !inRange(s.next, -1, n) || !inRange(s.room, 0, names.size) || !inRange(s.origin, 0, s.origins.length)) {
      throw new Error('graph snapshot: a slot names nothing');
    }
    g.origins = new NameTable([...s.origins]);
    g.head = s.head.slice(); // small (per name), and the slot arrays' growth can then free the buffer they view
    g.next = s.next;
    g.room = s.room;
    g.wall = s.wall;
    g.logical = s.logical;
    g.origin = s.origin;
    g.joined = s.joined;
    g.count = n;
    return g;
  }

  private membershipAt(slot: number): Membership {
    return { joined: this.joined[slot] === 1, hlc: { wall: this.wall[slot], logical: this.logical[slot] }, origin: this.origins.name(this.origin[slot]) };
  }

  private headOf(u: number | undefined): number {
    return u === undefined || u >= this.head.length ? -1 : this.head[u];
  }

  private intern(name: string): number {
    const id = this.names.intern(name);
    if (id >= this.head.length) this.head = resized(this.head, grown(this.head.length, id + 1), -1);
    return id;
  }

  private slot(u: number, r: number): number {
    for (let slot = this.headOf(u); slot >= 0; slot = this.next[slot]) if (this.room[slot] === r) return slot;
    return -1;
  }

  private addSlot(u: number, r: number): number {
    if (this.count >= this.room.length) {
      const size = grown(this.room.length, this.count + 1);
      this.next = resized(this.next, size);
      this.room = resized(this.room, size);
      this.wall = resized(this.wall, size);
      this.logical = resized(this.logical, size);
      this.origin = resized(this.origin, size);
      this.joined = resized(this.joined, size);
    }
    const slot = this.count++;
    this.room[slot] = r;
    this.next[slot] = this.head[u];
    this.head[u] = slot;
    return slot;
  }

  private compareSlot(slot: number, wall: number, logical: number, origin: string): number {
    const byClock = this.wall[slot] - wall || this.logical[slot] - logical;
    if (byClock !== 0) return byClock;
    const mine = this.origins.name(this.origin[slot]);
    return mine < origin ? -1 : mine > origin ? 1 : 0;
  }
}

function inRange(a: ArrayLike<number>, lo: number, hi: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] < lo || a[i] >= hi) return false;
  return true;
}

/** Past this many slots a graph grows by an eighth, not by half. */
const BIG = 1 << 20;

/**
 * Grows by half while small, then by an eighth: at millions of slots the slack,
 * and the old and new arrays held together while copying, are what costs (at
 * 2,000,000 pairs, 1.5x would hold 115 MB at once; 1.125x holds 98 and keeps 52).
 */
function grown(size: number, atLeast: number): number {
  let n = Math.max(size, 16);
  while (n < atLeast) n = Math.ceil(n * (n < BIG ? 1.5 : 1.125));
  return n;
}

type Typed = Int32Array | Float64Array | Uint32Array | Uint16Array | Uint8Array;

function resized<T extends Typed>(a: T, size: number, fill = 0): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  if (fill !== 0) b.fill(fill as never);
  b.set(a as never);
  return b;
}
