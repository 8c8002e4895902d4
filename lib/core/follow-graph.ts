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
import { compareHlc } from './hlc';
import type { ChatEvent } from './event';

/** The graph as plain arrays, for a checkpoint. */
export interface GraphSnapshot {
  names: string[];
  origins: string[];
  user: Int32Array;
  room: Int32Array;
  wall: Float64Array;
  logical: Uint32Array;
  origin: Uint32Array;
  joined: Uint8Array;
}

export class FollowGraph {
  private readonly names: string[] = [];
  private readonly nameIds = new Map<string, number>();
  private readonly origins: string[] = [];
  private readonly originIds = new Map<string, number>();
  private count = 0;
  private user = new Int32Array(1024);
  private room = new Int32Array(1024);
  private wall = new Float64Array(1024);
  private logical = new Uint32Array(1024);
  private origin = new Uint32Array(1024);
  private joined = new Uint8Array(1024);
  /** user id -> its slots */
  private readonly slotsOf: (number[] | undefined)[] = [];

  /** Applies a join or leave; returns whether membership changed. */
  apply(e: ChatEvent): boolean {
    if (e.kind !== 'join' && e.kind !== 'leave') return false;
    const u = this.intern(e.author);
    const r = this.intern(e.room);
    const o = internIn(this.origins, this.originIds, e.origin);
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
    for (const slot of u === undefined ? [] : (this.slotsOf[u] ?? [])) if (this.joined[slot] === 1) rooms.add(this.names[this.room[slot]]);
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
      user: this.user.slice(0, n),
      room: this.room.slice(0, n),
      wall: this.wall.slice(0, n),
      logical: this.logical.slice(0, n),
      origin: this.origin.slice(0, n),
      joined: this.joined.slice(0, n),
    };
  }

  static fromSnapshot(s: GraphSnapshot): FollowGraph {
    const g = new FollowGraph();
    for (const name of s.names) g.intern(name);
    for (const o of s.origins) internIn(g.origins, g.originIds, o);
    const n = s.user.length;
    for (const a of [s.room, s.wall, s.logical, s.origin, s.joined]) if (a.length !== n) throw new Error('graph snapshot: arrays differ in length');
    g.grow(n);
    g.user.set(s.user);
    g.room.set(s.room);
    g.wall.set(s.wall);
    g.logical.set(s.logical);
    g.origin.set(s.origin);
    g.joined.set(s.joined);
    g.count = n;
    for (let slot = 0; slot < n; slot++) {
      const u = s.user[slot];
      if (u < 0 || u >= s.names.length || s.room[slot] < 0 || s.room[slot] >= s.names.length || s.origin[slot] >= s.origins.length) {
        throw new Error('graph snapshot: a slot names nothing');
      }
      (g.slotsOf[u] ??= []).push(slot);
    }
    return g;
  }

  private intern(name: string): number {
    const id = internIn(this.names, this.nameIds, name);
    return id;
  }

  private slot(u: number, r: number): number {
    for (const slot of this.slotsOf[u] ?? []) if (this.room[slot] === r) return slot;
    return -1;
  }

  private addSlot(u: number, r: number): number {
    this.grow(this.count + 1);
    const slot = this.count++;
    this.user[slot] = u;
    this.room[slot] = r;
    (this.slotsOf[u] ??= []).push(slot);
    return slot;
  }

  private compareSlot(slot: number, wall: number, logical: number, origin: string): number {
    const byClock = compareHlc({ wall: this.wall[slot], logical: this.logical[slot] }, { wall, logical });
    if (byClock !== 0) return byClock;
    const mine = this.origins[this.origin[slot]];
    return mine < origin ? -1 : mine > origin ? 1 : 0;
  }

  /** Makes room for `n` slots, doubling. */
  private grow(n: number): void {
    if (n <= this.user.length) return;
    let size = this.user.length;
    while (size < n) size *= 2;
    this.user = resized(this.user, size);
    this.room = resized(this.room, size);
    this.wall = resized(this.wall, size);
    this.logical = resized(this.logical, size);
    this.origin = resized(this.origin, size);
    this.joined = resized(this.joined, size);
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

type Typed = Int32Array | Float64Array | Uint32Array | Uint8Array;

function resized<T extends Typed>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a as never);
  return b;
}
