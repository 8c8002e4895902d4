/**
 * What a process knows of a machine's events, in bounded memory: who exists, who
 * follows whom, and the version vector. The events themselves stay on disk (room
 * files, found through the origin index). It applies each origin's events strictly
 * in seq order (holding early arrivals back until the gap fills), which is what
 * makes version-vector cursors exact. Pure: no I/O.
 */
import { eventToLine, type ChatEvent } from './event';
import { FollowGraph, type GraphSnapshot } from './follow-graph';
import { NameFolds } from './name-folds';
import { NameNumbers } from './name-numbers';
import { NameTable } from './name-table';
import { RoomKeyTable, type KeyTableSnapshot } from './room-key-table';
import { RoomDirectory } from './room-directory';
import { covers, type VersionVector } from './version-vector';

/** Everything an index holds, for a checkpoint. */
export interface IndexSnapshot {
  /** The name table when taken: rooms and the graph are ids of it. */
  names: string[];
  vector: Record<string, number>;
  /** Every room's name id, in name order. */
  rooms: Int32Array;
  /** Events held back behind a gap, in no particular order. */
  pending: ChatEvent[];
  graph: GraphSnapshot;
  /** Every keyed room's key; absent in checkpoints from before keys were kept (such a checkpoint is not used). */
  keys: KeyTableSnapshot;
  /** Posts, joins and leaves made with a key, waiting for their user's key to be known here. */
  parked: ChatEvent[];
  /** Per name id: bytes of room-file lines that user wrote (see EventIndex.storedBy). */
  authored: Float64Array;
}

/** The bytes an event takes in its room file, its newline aside (what callers that read the line know already). */
export function lineBytes(e: ChatEvent): number {
  return Buffer.byteLength(eventToLine(e));
}

/** Whether a create carries a valid proof that a majority settled its name (storage/room-keys: provedBy). */
export type Proved = (e: ChatEvent) => boolean;

export class EventIndex {
  /** The process's names, shared by the graph, the directory and (through the journal) the room files' offsets. */
  names = new NameTable();
  graph = new FollowGraph(this.names);
  /** Every room's key (its deciding create: room-key.ts). */
  keys = new RoomKeyTable(this.names);
  /** Events made with a key, by the user whose key is not known here yet: applied (or shown) once it is. */
  private parked = new Map<string, ChatEvent[]>();
  /** Bytes of the lines each user wrote (posts, joins, leaves, creations), whether they count or not: what the storage quota counts. */
  private authored = new NameNumbers(this.names);
  private readonly pending = new Map<string, Map<number, ChatEvent>>();
  /** The line sizes of held-back events, where the caller knew them. */
  private sizes = new WeakMap<ChatEvent, number>();
  /**
   * Per origin, seqs a load found stored past a hole (a corrupt line): their effect is
   * taken, but the vector waits below the hole, so a pull from a peer asks for it
   * again; once it comes, the vector moves over them.
   */
  private readonly stored = new Map<string, Set<number>>();
  /** Every room (= user), sorted: what `list` pages through. */
  rooms = new RoomDirectory();
  /** The rooms by their case-folded names (a name is unique without regard to case). */
  private folds = new NameFolds();
  private readonly applied: VersionVector = new Map();
  /** During a bulk load: per origin, which seqs past its applied one have been seen. */
  private bulk: Map<string, { base: number; seen: Uint8Array; max: number }> | null = null;

  constructor(private readonly proved: Proved = () => false) {}

  /**
   * Offers an event. Returns the events to show, in apply order: this one and any it
   * unblocked or released (a post, join or leave waiting for its user's key), or none
   * if it is early, a duplicate, already held, or does not count (room-key.ts: counts).
   */
  offer(e: ChatEvent, bytes?: number): ChatEvent[] {
    if (covers(this.applied, e.origin, e.seq) || this.stored.get(e.origin)?.has(e.seq)) return [];
    const next = this.seqOf(e.origin) + 1;
    if (e.seq > next) {
      let held = this.pending.get(e.origin);
      if (!held) this.pending.set(e.origin, (held = new Map()));
      if (!held.has(e.seq)) held.set(e.seq, e);
      if (bytes !== undefined) this.sizes.set(e, bytes);
      return [];
    }
    const out = this.apply(e, bytes);
    this.drain(e.origin, out);
    return out;
  }

  /**
   * Offers an event known only by its index record, one without effect on rooms or
   * the graph (a post whose line nobody here needs: `bytes` of it, by `author`): the
   * origin's next seq, or nothing. Returns what became applied past it (events it
   * unblocked), or null if it is not the next seq.
   */
  offerUnreadPost(origin: string, seq: number, author: string, bytes: number): ChatEvent[] | null {
    if (seq !== this.seqOf(origin) + 1 || this.stored.get(origin)?.has(seq)) return null;
    this.applied.set(origin, seq);
    this.authored.add(author, bytes);
    this.pending.get(origin)?.delete(seq);
    const out: ChatEvent[] = [];
    this.drain(origin, out);
    return out;
  }

  /**
   * A bulk load (a scan of the room files, room after room) meets each origin's
   * seqs in any order, and holding early ones back would hold nearly all of them.
   * But rooms, the follow graph and the clock do not depend on arrival order, so
   * takeInBulk() takes each event's effect at once and notes only its seq; endBulk()
   * then moves the vector over what turned out dense.
   */
  beginBulk(): void {
    this.bulk ??= new Map();
  }

  /** Takes an event (its line `bytes` long) during a bulk load; false for one already had. */
  takeInBulk(e: ChatEvent, bytes: number): boolean {
    if (!this.bulk) return false;
    let b = this.bulk.get(e.origin);
    if (!b) {
      const base = this.seqOf(e.origin);
      if (e.seq <= base) return false;
      this.bulk.set(e.origin, (b = { base, seen: new Uint8Array(1024), max: base }));
    }
    const at = e.seq - b.base - 1;
    if (at < 0) return false;
    if (at >= b.seen.length) {
      const grown = new Uint8Array(Math.max(at + 1, b.seen.length * 2));
      grown.set(b.seen);
      b.seen = grown;
    }
    if (b.seen[at] === 1) return false;
    b.seen[at] = 1;
    b.max = Math.max(b.max, e.seq);
    this.authored.add(e.author, bytes);
    this.effect(e, false);
    return true;
  }

  /**
   * Ends a bulk pass: each origin's vector moves to its last dense seq, and an
   * origin with a gap, which it reports, stays in bulk mode for another pass (a
   * writer may have appended the missing seq after its room was read) or for holdGaps().
   */
  endBulk(): { origin: string; from: number; to: number }[] {
    const gaps: { origin: string; from: number; to: number }[] = [];
    for (const [origin, b] of this.bulk ?? []) {
      const base = b.base;
      let dense = 0;
      while (dense < b.max - base && b.seen[dense] === 1) dense++;
      if (dense === b.max - base) {
        this.applied.set(origin, b.max);
        this.bulk?.delete(origin);
        this.drain(origin, []); // events a checkpoint held back may follow
        continue;
      }
      for (let i = dense; i < b.max - base; ) {
        let j = i;
        while (j < b.max - base && b.seen[j] === 0) j++;
        if (j > i) gaps.push({ origin, from: base + i + 1, to: base + j });
        i = j + 1;
      }
      this.applied.set(origin, base + dense);
    }
    if (this.bulk?.size === 0) this.bulk = null;
    return gaps;
  }

  /**
   * Ends a bulk load leaving each hole open: the vector stops below it, and what a
   * scan found past it is kept as stored (see `stored`), to be passed over once the
   * hole is filled.
   */
  holdGaps(): void {
    for (const [origin, b] of this.bulk ?? []) {
      let dense = 0;
      while (dense < b.max - b.base && b.seen[dense] === 1) dense++;
      this.applied.set(origin, b.base + dense);
      const past = new Set<number>();
      for (let i = dense; i < b.max - b.base; i++) if (b.seen[i] === 1) past.add(b.base + i + 1);
      if (past.size > 0) this.stored.set(origin, past);
      this.drain(origin, []);
    }
    this.bulk = null;
  }

  /** The seqs missing here below what is held or stored past them, per origin. */
  holes(): { origin: string; from: number; to: number }[] {
    const out: { origin: string; from: number; to: number }[] = [];
    for (const origin of new Set([...this.pending.keys(), ...this.stored.keys()])) {
      const present = new Set([...(this.pending.get(origin)?.keys() ?? []), ...(this.stored.get(origin) ?? [])]);
      const top = Math.max(...present);
      for (let seq = this.seqOf(origin) + 1; seq < top; ) {
        if (present.has(seq)) {
          seq++;
          continue;
        }
        const from = seq;
        while (!present.has(seq)) seq++;
        out.push({ origin, from, to: seq - 1 });
      }
    }
    return out;
  }

  /** Whether this origin's event `seq` is here: applied, held back, or stored past a hole. */
  has(origin: string, seq: number): boolean {
    return covers(this.applied, origin, seq) || (this.pending.get(origin)?.has(seq) ?? false) || (this.stored.get(origin)?.has(seq) ?? false);
  }

  /** The highest seq of an origin found here, holes or not: a writer stamps after it. */
  topSeq(origin: string): number {
    let top = this.seqOf(origin);
    for (const seq of this.pending.get(origin)?.keys() ?? []) top = Math.max(top, seq);
    for (const seq of this.stored.get(origin) ?? []) top = Math.max(top, seq);
    return top;
  }

  /** Whether events stored here wait behind a hole (a checkpoint then would skip them at the next start). */
  hasStoredPastHoles(): boolean {
    return this.stored.size > 0;
  }

  /** Number of events held back waiting for an earlier seq. */
  heldBack(): number {
    let n = 0;
    for (const held of this.pending.values()) n += held.size;
    for (const past of this.stored.values()) n += past.size;
    return n;
  }

  vector(): VersionVector {
    return new Map(this.applied);
  }

  /** Every origin something is held of: applied, held back, or stored past a hole. */
  origins(): Set<string> {
    return new Set([...this.applied.keys(), ...this.pending.keys(), ...this.stored.keys()]);
  }

  /** Highest applied seq of one origin (0 if none). */
  seqOf(origin: string): number {
    return this.applied.get(origin) ?? 0;
  }

  userExists(user: string): boolean {
    return this.rooms.has(user);
  }

  /** The existing rooms spelled like `name` without regard to case, `name` itself included if it exists. */
  spellings(name: string): string[] {
    return this.folds.spellings(name, (room) => this.rooms.has(room));
  }

  /** Bytes of room-file lines `user` wrote, as far as this index has applied them. */
  storedBy(user: string): number {
    return this.authored.get(user);
  }

  snapshot(): IndexSnapshot {
    const rooms = Int32Array.from(this.rooms.names(''), (room) => this.names.intern(room));
    const names = this.names.slice();
    return {
      names,
      vector: Object.fromEntries(this.applied),
      rooms,
      pending: [...this.pending.values()].flatMap((held) => [...held.values()]),
      graph: this.graph.snapshot(names.length),
      keys: this.keys.snapshot(),
      parked: [...this.parked.values()].flat(),
      authored: this.authored.snapshot(names.length),
    };
  }

  /**
   * Starts over from a snapshot (a checkpoint's) or from nothing, in place: whoever
   * holds this index (the chat handlers, the replicator) sees the loaded state.
   */
  restore(s?: IndexSnapshot): void {
    const from = s ? EventIndex.fromSnapshot(s, this.proved) : new EventIndex(this.proved);
    this.names = from.names;
    this.graph = from.graph;
    this.keys = from.keys;
    this.parked = from.parked;
    this.authored = from.authored;
    this.sizes = from.sizes;
    this.rooms = from.rooms;
    this.folds = from.folds;
    for (const map of [this.pending, this.stored, this.applied]) map.clear();
    for (const [origin, seq] of from.applied) this.applied.set(origin, seq);
    for (const [origin, held] of from.pending) this.pending.set(origin, held);
    this.bulk = null;
  }

  static fromSnapshot(s: IndexSnapshot, proved?: Proved): EventIndex {
    const index = new EventIndex(proved);
    index.names = new NameTable(s.names);
    index.graph = FollowGraph.fromSnapshot(s.graph, index.names);
    index.keys = RoomKeyTable.fromSnapshot(s.keys, index.names);
    for (const e of s.parked) index.park(e.kind === 'post' ? e.room : e.author, e);
    index.authored = new NameNumbers(index.names, s.authored.slice());
    for (const [origin, seq] of Object.entries(s.vector)) index.applied.set(origin, seq);
    const rooms: string[] = new Array(s.rooms.length);
    for (let i = 0; i < s.rooms.length; i++) {
      const name = index.names.name(s.rooms[i]);
      if (name === undefined) throw new Error('index snapshot: a room id names nothing');
      rooms[i] = name;
    }
    index.rooms = RoomDirectory.fromSorted(rooms);
    for (const room of rooms) index.folds.add(room);
    for (const e of s.pending) index.offer(e);
    return index;
  }

  private drain(origin: string, out: ChatEvent[]): void {
    const held = this.pending.get(origin);
    const past = this.stored.get(origin);
    if (!held && !past) return;
    for (let seq = this.seqOf(origin) + 1; ; seq++) {
      const e = held?.get(seq);
      if (e) {
        held?.delete(seq);
        out.push(...this.apply(e, this.sizes.get(e)));
      } else if (past?.delete(seq)) {
        this.applied.set(origin, seq); // its effect was taken when it was scanned
      } else break;
    }
    if (held?.size === 0) this.pending.delete(origin);
    if (past?.size === 0) this.stored.delete(origin);
  }

  private apply(e: ChatEvent, bytes = lineBytes(e)): ChatEvent[] {
    this.applied.set(e.origin, e.seq);
    this.authored.add(e.author, bytes);
    return this.effect(e, true);
  }

  /**
   * An event's effect on rooms, keys and the graph; returns what to show. A post, join
   * or leave made with a key counts only if it is its user's key (its room's for a
   * post, its author's for the others); one whose user's key is not known yet waits.
   * `live`: posts are shown (a bulk load shows nothing, and keeps no post waiting).
   */
  private effect(e: ChatEvent, live: boolean): ChatEvent[] {
    if (e.kind === 'create') {
      this.rooms.add(this.names.canonical(e.room));
      this.folds.add(e.room);
      this.keys.offer(e, this.proved);
      return [e, ...this.release(e.room, live)];
    }
    if (e.key !== undefined) {
      const user = e.kind === 'post' ? e.room : e.author;
      const key = this.keys.fingerprintOf(user);
      if (key === null && (live || e.kind !== 'post')) this.park(user, e);
      if (key !== e.key) return [];
    }
    if (e.kind !== 'post') this.graph.apply(e);
    return [e];
  }

  private park(user: string, e: ChatEvent): void {
    const waiting = this.parked.get(user);
    if (waiting) waiting.push(e);
    else this.parked.set(user, [e]);
  }

  private release(user: string, live: boolean): ChatEvent[] {
    const waiting = this.parked.get(user);
    if (!waiting) return [];
    this.parked.delete(user);
    return waiting.flatMap((e) => this.effect(e, live));
  }
}
