/**
 * Who follows which room. A user's membership of a room is decided by their latest
 * join or leave by the ordering key, whatever order the events arrive in, so every
 * machine derives the same graph from the same events. Everyone follows their own room.
 *
 * Compact, because every process holds all of it: names are interned to numbers
 * and each (user, room) pair is one slot in typed arrays holding the deciding
 * event's key (wall, logical, origin) and whether it was a join: about 19 bytes a
 * pair, where Maps of Sets of strings plus the deciding events took hundreds.
 * (hlc, origin) identifies an event: one origin never stamps two events alike.
 */
import type { ChatEvent } from './event';

/** The graph as plain arrays, for a checkpoint. */
export interface GraphSnapshot {
  names: string[];
  origins: string[];
  /** Per name: its first slot as a user (-1: none). */
  head: Int32Array;
  /** Per slot: the user's next slot (-1: last), the room, the deciding key and whether it joined. */
  next: Int32Array;
  room: Int32Array;
  wall: Float64Array;
  logical: Uint32Array;
  origin: Uint16Array;
  joined: Uint8Array;
}

export class FollowGraph {
  private names: string[] = [];
  private nameIds = new Map<string, number>();
  private origins: string[] = [];
  private originIds = new Map<string, number>();
  private count = 0;
  private head = new Int32Array(1024).fill(-1);
  private next = new Int32Array(1024);
  private room = new Int32Array(1024);
  private wall = new Float64Array(1024);
  private logical = new Uint32Array(1024);
  private origin = new Uint16Array(1024);
  private joined = new Uint8Array(1024);

  /** Applies a join or leave; returns whether membership changed. */
  apply(e: ChatEvent): boolean {
    if (e.kind !== 'join' && e.kind !== 'leave') return false;
    const u = this.intern(e.author);
    const r = this.intern(e.room);
    const o = internIn(this.origins, this.originIds, e.origin);
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
    const u = this.nameIds.get(user);
    const r = this.nameIds.get(room);
    if (u === undefined || r === undefined) return false;
    const slot = this.slot(u, r);
    return slot >= 0 && this.joined[slot] === 1;
  }

  /** Rooms the user follows, own room included, sorted. */
  following(user: string): string[] {
    const rooms = new Set([user]);
    const u = this.nameIds.get(user);
    for (let slot = u === undefined ? -1 : this.head[u]; slot >= 0; slot = this.next[slot]) {
      if (this.joined[slot] === 1) rooms.add(this.names[this.room[slot]]);
    }
    return [...rooms].sort();
  }

  /** Join/leave pairs held (current members and past ones). */
  get size(): number {
    return this.count;
  }

  snapshot(): GraphSnapshot {
    const n = this.count;
    return {
      names: [...this.names],
      origins: [...this.origins],
      head: this.head.slice(0, this.names.length),
      next: this.next.slice(0, n),
      room: this.room.slice(0, n),
      wall: this.wall.slice(0, n),
      logical: this.logical.slice(0, n),
      origin: this.origin.slice(0, n),
      joined: this.joined.slice(0, n),
    };
  }

  /** Restores a snapshot (copies of its arrays, checked to name only what exists). */
  static fromSnapshot(s: GraphSnapshot): FollowGraph {
    const g = new FollowGraph();
    const n = s.room.length;
    for (const a of [s.next, s.wall, s.logical, s.origin, s.joined]) if (a.length !== n) throw new Error('graph snapshot: arrays differ in length');
    if (s.head.length !== s.names.length) throw new Error('graph snapshot: arrays differ in length');
    const inRange = (a: ArrayLike<number>, lo: number, hi: number): boolean => {
      for (let i = 0; i < a.length; i++) if (a[i] < lo || a[i] >= hi) return false;
      return true;
    };
    if (!inRange(s.head, -1, n) || !inRange(s.next, -1, n) || !inRange(s.room, 0, s.names.length) || !inRange(s.origin, 0, s.origins.length)) {
      throw new Error('graph snapshot: a slot names nothing');
    }
    g.names = [...s.names];
    g.nameIds = new Map(g.names.map((name, i) => [name, i]));
    g.origins = [...s.origins];
    g.originIds = new Map(g.origins.map((o, i) => [o, i]));
    g.head = Int32Array.from(s.head);
    g.next = Int32Array.from(s.next);
    g.room = Int32Array.from(s.room);
    g.wall = Float64Array.from(s.wall);
    g.logical = Uint32Array.from(s.logical);
    g.origin = Uint16Array.from(s.origin);
    g.joined = Uint8Array.from(s.joined);
    g.count = n;
    return g;
  }

  private intern(name: string): number {
    const id = internIn(this.names, this.nameIds, name);
    if (id >= this.head.length) this.head = resized(this.head, grown(this.head.length, id + 1), -1);
    return id;
  }

  private slot(u: number, r: number): number {
    for (let slot = this.head[u]; slot >= 0; slot = this.next[slot]) if (this.room[slot] === r) return slot;
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
    const mine = this.origins[this.origin[slot]];
    return mine < origin ? -1 : mine > origin ? 1 : 0;
  }
}

function internIn(list: string[], ids: Map<string, number>, name: string): number {
  let id = ids.get(name);
  if (id === undefined) {
    id = list.length;
    list.push(name);
    ids.set(name, id);
  }
  return id;
}

/** Grows by half (not doubling: at millions of slots the slack is what costs). */
function grown(size: number, atLeast: number): number {
  let n = Math.max(size, 16);
  while (n < atLeast) n = Math.ceil(n * 1.5);
  return n;
}

type Typed = Int32Array | Float64Array | Uint32Array | Uint16Array | Uint8Array;

function resized<T extends Typed>(a: T, size: number, fill = 0): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  if (fill !== 0) b.fill(fill as never);
  b.set(a as never);
  return b;
}
