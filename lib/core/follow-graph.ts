/**
 * Who follows which room. A user's membership of a room is decided by their latest
 * join or leave by the ordering key, whatever order the events arrive in, so every
 * machine derives the same graph from the same events. Everyone follows their own room.
 *
 * Compact, because every process holds all of it: names are ids of the process's
 * name table (shared with the room directory and the file offsets) and each
 * (user, room) pair is one slot in typed arrays (pair-slots.ts) holding the deciding
 * event's stamp (stamp-columns.ts) and whether it was a join: about 19 bytes a pair, where Maps of Sets of strings plus the deciding events took hundreds.
 * (hlc, origin) identifies an event: one origin never stamps two events alike.
 */
import type { ChatEvent } from './event';
import type { Hlc } from './hlc';
import { NameTable } from './name-table';
import { PairSlots, type PairArrays } from './pair-slots';
import { resized, StampColumns, type StampArrays } from './stamp-columns';

/** A (user, room) pair's deciding join or leave: which it was, and its key (hlc, origin). */
export interface Membership {
  joined: boolean;
  hlc: Hlc;
  origin: string;
}

/** The graph as plain arrays, for a checkpoint; names are ids of the table it was taken with. */
export interface GraphSnapshot extends PairArrays, StampArrays {
  /** Per slot: whether its deciding event was a join. */
  joined: Uint8Array<ArrayBuffer>;
}

export class FollowGraph {
  private pairs = new PairSlots();
  /** Per slot: the deciding event's stamp, and whether it was a join. */
  private stamps = new StampColumns('follow graph', 1024);
  private joined = new Uint8Array(1024);

  constructor(readonly names: NameTable = new NameTable()) {}

  /** Applies a join or leave; returns whether membership changed. */
  apply(e: ChatEvent): boolean {
    if (e.kind !== 'join' && e.kind !== 'leave') return false;
    const u = this.names.intern(e.author);
    this.pairs.addUser(u);
    const r = this.names.intern(e.room);
    this.pairs.addUser(r);
    let slot = this.pairs.find(u, r);
    const was = slot >= 0 && this.joined[slot] === 1;
    if (slot < 0) slot = this.addPair(u, r);
    else if (this.stamps.compare(slot, e.hlc, e.origin) >= 0) return false;
    this.stamps.set(slot, e.hlc, e.origin);
    this.joined[slot] = e.kind === 'join' ? 1 : 0;
    return was !== (e.kind === 'join');
  }

  isFollowing(user: string, room: string): boolean {
    if (user === room) return true;
    const slot = this.slotOf(user, room);
    return slot >= 0 && this.joined[slot] === 1;
  }

  /** The deciding join or leave of (user, room), if the user ever joined or left it. */
  membership(user: string, room: string): Membership | undefined {
    const slot = this.slotOf(user, room);
    return slot < 0 ? undefined : this.membershipAt(slot);
  }

  /** Every room the user ever joined or left, with the deciding event (own room aside). */
  memberships(user: string): Map<string, Membership> {
    const out = new Map<string, Membership>();
    for (let slot = this.pairs.first(this.names.id(user)); slot >= 0; slot = this.pairs.after(slot)) out.set(this.names.name(this.pairs.roomOf(slot)), this.membershipAt(slot));
    return out;
  }

  /** Rooms the user follows, own room included, sorted. */
  following(user: string): string[] {
    const rooms = new Set([user]);
    for (let slot = this.pairs.first(this.names.id(user)); slot >= 0; slot = this.pairs.after(slot)) {
      if (this.joined[slot] === 1) rooms.add(this.names.name(this.pairs.roomOf(slot)));
    }
    return [...rooms].sort();
  }

  /** Join/leave pairs held (current members and past ones). */
  get size(): number {
    return this.pairs.size;
  }

  /** The graph over the first `names` ids of its table (all it uses: ids are taken in order). */
  snapshot(names = this.names.size): GraphSnapshot {
    const n = this.pairs.size;
    return { ...this.pairs.slice(names), ...this.stamps.slice(n), joined: this.joined.slice(0, n) };
  }

  /**
   * Restores a snapshot over `names`, using its arrays in place (a checkpoint's are
   * views of the file just read: no copy), after checking every slot names only
   * what exists (pair-slots.ts).
   */
  static fromSnapshot(s: GraphSnapshot, names: NameTable): FollowGraph {
    const g = new FollowGraph(names);
    const n = s.room.length;
    for (const a of [s.next, s.wall, s.logical, s.origin, s.joined]) if (a.length !== n) throw new Error('graph snapshot: arrays differ in length');
    g.pairs = PairSlots.from(s, names.size);
    if (!s.origin.every((o) => o < s.origins.length)) throw new Error('graph snapshot: a slot names nothing');
    g.stamps = StampColumns.from('follow graph', s, new NameTable([...s.origins]));
    g.joined = s.joined;
    return g;
  }

  private slotOf(user: string, room: string): number {
    const u = this.names.id(user);
    const r = this.names.id(room);
    return u === undefined || r === undefined ? -1 : this.pairs.find(u, r);
  }

  private addPair(u: number, r: number): number {
    const slot = this.pairs.add(u, r);
    if (this.joined.length < this.pairs.capacity) {
      this.joined = resized(this.joined, this.pairs.capacity);
      this.stamps.resize(this.pairs.capacity);
    }
    return slot;
  }

  private membershipAt(slot: number): Membership {
    return { joined: this.joined[slot] === 1, hlc: this.stamps.hlcAt(slot), origin: this.stamps.originAt(slot) };
  }
}
