/**
 * The in-memory view of every event a process knows: who exists, who follows
 * whom, each room's posts in key order, and the version vector. It applies each
 * origin's events strictly in seq order (holding early arrivals back until the gap
 * fills), which is what makes version-vector cursors exact. Pure: no I/O.
 */
import { compareEvents, type ChatEvent } from './event';
import { FollowGraph } from './follow-graph';
import { covers, type VersionVector } from './version-vector';

interface Applied {
  event: ChatEvent;
  position: number; // local apply order; respects each origin's seq order
}

export class EventIndex {
  readonly graph = new FollowGraph();
  private readonly byId = new Map<string, ChatEvent>();
  private readonly byOrigin = new Map<string, Applied[]>();
  private readonly pending = new Map<string, Map<number, ChatEvent>>();
  private readonly postsByRoom = new Map<string, ChatEvent[]>();
  /** For a post stored under several slots: the copy its room's timeline shows. */
  private readonly shownCopy = new Map<string, ChatEvent>();
  private readonly rooms = new Set<string>();
  private readonly applied: VersionVector = new Map();
  private positions = 0;

  /** Known ids, applied or waiting for an earlier seq of their origin. */
  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): ChatEvent | undefined {
    return this.byId.get(id);
  }

  /**
   * Offers an event. Returns the events that became applied, in apply order: this
   * one and any it unblocked, or none if it is early, a duplicate or already held.
   */
  offer(e: ChatEvent): ChatEvent[] {
    if (covers(this.applied, e.origin, e.seq)) return [];
    const next = (this.applied.get(e.origin) ?? 0) + 1;
    if (e.seq > next) {
      let held = this.pending.get(e.origin);
      if (!held) this.pending.set(e.origin, (held = new Map()));
      if (!held.has(e.seq)) {
        held.set(e.seq, e);
        if (!this.byId.has(e.id)) this.byId.set(e.id, e);
      }
      return [];
    }
    const out = [this.apply(e)];
    this.drain(e.origin, out);
    return out.filter((x): x is ChatEvent => x !== null);
  }

  /**
   * Applies whatever is still held back past its gaps (a seq lost for good, e.g. a
   * corrupt line). Called after a full load; returns the events applied and the gaps.
   */
  settle(): { applied: ChatEvent[]; gaps: { origin: string; from: number; to: number }[] } {
    const out: (ChatEvent | null)[] = [];
    const gaps: { origin: string; from: number; to: number }[] = [];
    for (const [origin, held] of [...this.pending]) {
      for (const seq of [...held.keys()].sort((a, b) => a - b)) {
        const e = held.get(seq);
        if (!e) continue; // drained by an earlier iteration
        const next = (this.applied.get(origin) ?? 0) + 1;
        if (seq > next) gaps.push({ origin, from: next, to: seq - 1 });
        held.delete(seq);
        out.push(this.apply(e));
        this.drain(origin, out);
      }
      this.pending.delete(origin);
    }
    return { applied: out.filter((x): x is ChatEvent => x !== null), gaps };
  }

  /** Number of events held back waiting for an earlier seq. */
  heldBack(): number {
    let n = 0;
    for (const held of this.pending.values()) n += held.size;
    return n;
  }

  vector(): VersionVector {
    return new Map(this.applied);
  }

  /** Highest applied seq of one origin (0 if none). */
  seqOf(origin: string): number {
    return this.applied.get(origin) ?? 0;
  }

  userExists(user: string): boolean {
    return this.rooms.has(user);
  }

  roomNames(): string[] {
    return [...this.rooms].sort();
  }

  /** The last `limit` posts of the given rooms, oldest first. */
  lastPosts(rooms: Iterable<string>, limit: number): ChatEvent[] {
    if (limit <= 0) return []; // slice(-0) would be everything
    const picked: ChatEvent[] = [];
    for (const room of rooms) {
      const posts = this.postsByRoom.get(room);
      if (posts) picked.push(...posts.slice(-limit));
    }
    return picked.sort(compareEvents).slice(-limit);
  }

  /** Applied events after `cursor` that pass `keep`, in apply order, at most `max`. */
  after(cursor: VersionVector, keep: (e: ChatEvent) => boolean, max = Infinity): ChatEvent[] {
    const found: Applied[] = [];
    for (const [origin, list] of this.byOrigin) {
      const from = firstAfter(list, cursor.get(origin) ?? 0);
      for (let i = from; i < list.length; i++) if (keep(list[i].event)) found.push(list[i]);
    }
    return found.sort((a, b) => a.position - b.position).slice(0, max).map((a) => a.event);
  }

  private drain(origin: string, out: (ChatEvent | null)[]): void {
    const held = this.pending.get(origin);
    if (!held) return;
    for (let seq = this.seqOf(origin) + 1; held.has(seq); seq++) {
      const e = held.get(seq) as ChatEvent;
      held.delete(seq);
      out.push(this.apply(e));
    }
    if (held.size === 0) this.pending.delete(origin);
  }

  /** Takes the origin's slot; returns the event if it is visible (its id not seen before). */
  private apply(e: ChatEvent): ChatEvent | null {
    this.applied.set(e.origin, e.seq);
    let list = this.byOrigin.get(e.origin);
    if (!list) this.byOrigin.set(e.origin, (list = []));
    const known = this.byId.get(e.id);
    if (e.kind === 'post') this.showInTimeline(e, known);
    // The same id under another slot is a retried post stored twice (e.g. on two
    // machines): the slot is consumed so the origin stays gap-free, the copy is not streamed.
    if (known && known !== e) return null;
    this.byId.set(e.id, e);
    list.push({ event: e, position: this.positions++ });
    if (e.kind === 'create') this.rooms.add(e.room);
    else if (e.kind !== 'post') this.graph.apply(e);
    return e;
  }

  /**
   * Puts an applied post in its room's timeline. Of several copies of one id the
   * timeline shows the one first in key order, whatever order they arrived in, so
   * every machine holding the same copies shows the same timeline.
   */
  private showInTimeline(e: ChatEvent, known: ChatEvent | undefined): void {
    const other = known !== undefined && known !== e;
    const applied = other && known.kind === 'post' && this.seqOf(known.origin) >= known.seq;
    const shown = this.shownCopy.get(e.id) ?? (applied ? known : undefined);
    if (shown && compareEvents(shown, e) <= 0) return;
    if (shown) {
      const posts = listOf(this.postsByRoom, shown.room);
      posts.splice(posts.indexOf(shown), 1);
    }
    insertSorted(listOf(this.postsByRoom, e.room), e);
    if (shown || other) this.shownCopy.set(e.id, e);
  }
}

function listOf(m: Map<string, ChatEvent[]>, k: string): ChatEvent[] {
  let l = m.get(k);
  if (!l) m.set(k, (l = []));
  return l;
}

/** Inserts keeping key order; events mostly arrive in order, so search from the end. */
function insertSorted(list: ChatEvent[], e: ChatEvent): void {
  let i = list.length;
  while (i > 0 && compareEvents(list[i - 1], e) > 0) i--;
  list.splice(i, 0, e);
}

/** Index of the first entry whose seq is above `seq` (entries ascend by seq). */
function firstAfter(list: Applied[], seq: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].event.seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
