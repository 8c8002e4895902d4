/**
 * Every (user, room) pair a table holds, as a slot of typed arrays: per user id a
 * list of that user's slots (head, next), each naming its room's id. Slots are
 * numbered in the order they were added, so columns kept beside these (the follow
 * graph's) are indexed by the same numbers. Pure.
 */
import { resized } from './stamp-columns';

/** The pairs as plain arrays, for a checkpoint. */
export interface PairArrays {
  /** Per name id: its first slot as a user (-1: none). */
  head: Int32Array<ArrayBuffer>;
  /** Per slot: the user's next slot (-1: last), and the room. */
  next: Int32Array<ArrayBuffer>;
  room: Int32Array<ArrayBuffer>;
}

export class PairSlots {
  private count = 0;
  private head = new Int32Array(1024).fill(-1);
  private next = new Int32Array(1024);
  private room = new Int32Array(1024);

  /**
   * Pairs over a snapshot's arrays, used in place (a checkpoint's are views of the
   * file just read: no copy), after checking every slot names only what exists
   * (a few ms for millions; a wrong checkpoint must not send a walk out of bounds).
   */
  static from(s: PairArrays, names: number): PairSlots {
    const n = s.room.length;
    if (s.next.length !== n || s.head.length > names) throw new Error('graph snapshot: arrays differ in length');
    if (!inRange(s.head, -1, n) || !inRange(s.next, -1, n) || !inRange(s.room, 0, names)) throw new Error('graph snapshot: a slot names nothing');
    const p = new PairSlots();
    p.head = s.head.slice(); // small (per name), and the slot arrays' growth can then free the buffer they view
    p.next = s.next;
    p.room = s.room;
    p.count = n;
    return p;
  }

  /** Pairs held. */
  get size(): number {
    return this.count;
  }

  /** Slots there is room for: columns beside these grow to it. */
  get capacity(): number {
    return this.room.length;
  }

  /** Makes room for user id `u`. */
  addUser(u: number): void {
    if (u >= this.head.length) this.head = resized(this.head, grown(this.head.length, u + 1), -1);
  }

  /** The slot of (u, r), or -1. */
  find(u: number, r: number): number {
    for (let slot = this.first(u); slot >= 0; slot = this.next[slot]) if (this.room[slot] === r) return slot;
    return -1;
  }

  /** Adds the pair (u, r) (user `u` added first); returns its slot. */
  add(u: number, r: number): number {
    if (this.count >= this.room.length) {
      const size = grown(this.room.length, this.count + 1);
      this.next = resized(this.next, size);
      this.room = resized(this.room, size);
    }
    const slot = this.count++;
    this.room[slot] = r;
    this.next[slot] = this.head[u];
    this.head[u] = slot;
    return slot;
  }

  /** The user's first slot (-1: none); the next ones by `after`. */
  first(u: number | undefined): number {
    return u === undefined || u >= this.head.length ? -1 : this.head[u];
  }

  after(slot: number): number {
    return this.next[slot];
  }

  roomOf(slot: number): number {
    return this.room[slot];
  }

  /** The pairs over the first `names` name ids (all they use: ids are taken in order). */
  slice(names: number): PairArrays {
    const head = new Int32Array(names).fill(-1);
    head.set(this.head.subarray(0, Math.min(names, this.head.length)));
    return { head, next: this.next.slice(0, this.count), room: this.room.slice(0, this.count) };
  }
}

function inRange(a: ArrayLike<number>, lo: number, hi: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] < lo || a[i] >= hi) return false;
  return true;
}

/** Past this many slots a table grows by an eighth, not by half. */
const BIG = 1 << 20;

/**
 * Grows by half while small, then by an eighth: at millions of slots the slack,
 * and the old and new arrays held together while copying, are what costs (at
 * 2,000,000 pairs, 1.5x would hold 115 MB at once; 1.125x holds 98 and keeps 52).
 */
export function grown(size: number, atLeast: number): number {
  let n = Math.max(size, 16);
  while (n < atLeast) n = Math.ceil(n * (n < BIG ? 1.5 : 1.125));
  return n;
}
