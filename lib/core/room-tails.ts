/**
 * The recent posts of the rooms in use, in an LRU of bounded size: what chat-mode
 * entry (the last N posts of the followed rooms) and a retried post's lookup by id
 * need, without holding any room's whole history. A room not cached is loaded
 * through `load` (its file's tail, read from disk). Of several copies of one post
 * (a retry stored under two slots) a tail shows the one `shownCopy` picks, so
 * every machine shows the same timeline. Pure.
 */
import { compareEvents, shownCopy, type ChatEvent } from './event';

export class RoomTail {
  /** Posts in key order, one copy per id, at most `keep`. */
  readonly posts: ChatEvent[] = [];
  private readonly byId = new Map<string, ChatEvent>();

  constructor(private readonly keep: number) {}

  /** The shown copy of a post still in the tail. */
  get(id: string): ChatEvent | undefined {
    return this.byId.get(id);
  }

  /** Takes a post; false if it is a copy of a post already shown (the earlier copy in key order stays). */
  add(e: ChatEvent): boolean {
    const shown = this.byId.get(e.id);
    if (shown && shownCopy(shown, e) === shown) return false;
    if (shown) this.posts.splice(this.posts.indexOf(shown), 1);
    insertSorted(this.posts, e);
    this.byId.set(e.id, e);
    while (this.posts.length > this.keep) this.byId.delete((this.posts.shift() as ChatEvent).id);
    return shown === undefined;
  }
}

export class RoomTails {
  private readonly cache = new Map<string, RoomTail>(); // in use order: oldest first

  constructor(
    private readonly rooms: number,
    /** Posts kept per room. */
    readonly keep: number,
    /** The room's most recent posts from disk, in file order (at least `keep` if it has them). */
    private readonly load: (room: string, keep: number) => ChatEvent[],
  ) {}

  /** The room's tail, loaded if not cached. */
  get(room: string): RoomTail {
    let tail = this.cache.get(room);
    if (tail) this.cache.delete(room);
    else {
      tail = new RoomTail(this.keep);
      for (const e of this.load(room, this.keep)) tail.add(e);
    }
    this.cache.set(room, tail);
    if (this.cache.size > this.rooms) this.cache.delete(this.cache.keys().next().value as string);
    return tail;
  }

  /** Whether the room's tail is in memory (a post applied to it must be read to go in). */
  cached(room: string): boolean {
    return this.cache.has(room);
  }

  /**
   * A post just applied here: into its room's tail if cached (an uncached room reads
   * it from disk when next asked). Returns false for a copy of a post the tail shows.
   */
  addPost(e: ChatEvent): boolean {
    return this.cache.get(e.room)?.add(e) ?? true;
  }

  /**
   * The last `limit` posts of the given rooms, oldest first: a k-way merge from the
   * tails' ends that stops at `limit`, so it costs the rooms plus `limit`, not the
   * rooms times `limit` (a user may follow a thousand rooms).
   */
  lastPosts(rooms: Iterable<string>, limit: number): ChatEvent[] {
    const heads = [...rooms].map((room) => ({ posts: this.get(room).posts, at: 0 })).filter((h) => h.posts.length > 0);
    for (const h of heads) h.at = h.posts.length - 1;
    const newest = (h: { posts: ChatEvent[]; at: number }): ChatEvent => h.posts[h.at];
    const heap = new MaxHeap(heads, (a, b) => compareEvents(newest(a), newest(b)));
    const picked: ChatEvent[] = [];
    while (picked.length < limit && heap.size > 0) {
      const h = heap.top();
      picked.push(newest(h));
      if (--h.at >= 0) heap.sink();
      else heap.pop();
    }
    return picked.reverse();
  }

  get size(): number {
    return this.cache.size;
  }
}

/** A binary max-heap over an array, built in linear time; the top can be changed in place and sunk. */
class MaxHeap<T> {
  constructor(
    private readonly items: T[],
    private readonly compare: (a: T, b: T) => number,
  ) {
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.sink(i);
  }

  get size(): number {
    return this.items.length;
  }

  top(): T {
    return this.items[0];
  }

  pop(): void {
    const last = this.items.pop() as T;
    if (this.items.length > 0) {
      this.items[0] = last;
      this.sink();
    }
  }

  /** Restores order below `i` after its item became smaller. */
  sink(i = 0): void {
    const a = this.items;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let big = i;
      if (l < a.length && this.compare(a[l], a[big]) > 0) big = l;
      if (r < a.length && this.compare(a[r], a[big]) > 0) big = r;
      if (big === i) return;
      [a[i], a[big]] = [a[big], a[i]];
      i = big;
    }
  }
}

/** Inserts keeping key order; events mostly arrive in order, so search from the end. */
function insertSorted(list: ChatEvent[], e: ChatEvent): void {
  let i = list.length;
  while (i > 0 && compareEvents(list[i - 1], e) > 0) i--;
  list.splice(i, 0, e);
}
