/**
 * The recent posts of the rooms in use, in an LRU of bounded size: what chat-mode
 * entry (the last N posts of the followed rooms) and a retried post's lookup by id
 * need, without holding any room's whole history. A room not cached is loaded
 * through `load` (its file's tail, read from disk). Of several copies of one post
 * (a retry stored under two slots) a tail shows the one first in key order,
 * whatever order they arrived in, so every machine shows the same timeline. Pure.
 */
import { compareEvents, type ChatEvent } from './event';

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
    if (shown && compareEvents(shown, e) <= 0) return false;
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

  /**
   * A post just applied here: into its room's tail if cached (an uncached room reads
   * it from disk when next asked). Returns false for a copy of a post the tail shows.
   */
  take(e: ChatEvent): boolean {
    return this.cache.get(e.room)?.add(e) ?? true;
  }

  /** The last `limit` posts of the given rooms, oldest first. */
  lastPosts(rooms: Iterable<string>, limit: number): ChatEvent[] {
    if (limit <= 0) return []; // slice(-0) would be everything
    const picked: ChatEvent[] = [];
    for (const room of rooms) picked.push(...this.get(room).posts.slice(-limit));
    return picked.sort(compareEvents).slice(-limit);
  }

  get size(): number {
    return this.cache.size;
  }
}

/** Inserts keeping key order; events mostly arrive in order, so search from the end. */
function insertSorted(list: ChatEvent[], e: ChatEvent): void {
  let i = list.length;
  while (i > 0 && compareEvents(list[i - 1], e) > 0) i--;
  list.splice(i, 0, e);
}
