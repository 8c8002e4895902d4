/**
 * What a process knows of a machine's events, in bounded memory: who exists, who
 * follows whom, and the version vector. The events themselves stay on disk (room
 * files, found through the origin index). It applies each origin's events strictly
 * in seq order (holding early arrivals back until the gap fills), which is what
 * makes version-vector cursors exact (origin-seqs.ts; a bulk load's seqs:
 * bulk-seqs.ts); what each event does is event-effects.ts's, and a checkpoint's
 * snapshot of it index-snapshot.ts's. Pure: no I/O.
 */
import { eventToLine, type ChatEvent } from './event';
import { applyEvents, effectOf, type Effected, type Proved } from './event-effects';
import { FollowGraph, type GraphSnapshot } from './follow-graph';
import { BulkSeqs, type SeqGap } from './bulk-seqs';
import { NameNumbers } from './name-numbers';
import { NameTable } from './name-table';
import { OriginSeqs } from './origin-seqs';
import { RoomKeyTable, type KeyTableSnapshot } from './room-key-table';
import { RoomDirectory } from './room-directory';

export type { Proved } from './event-effects';

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
  /** Per name id: bytes of room-file lines that user wrote (EventIndex.authored). */
  authored: Float64Array;
}

/** The bytes an event takes in its room file, its newline aside (what callers that read the line know already). */
export function lineBytes(e: ChatEvent): number {
  return Buffer.byteLength(eventToLine(e));
}

export class EventIndex implements Effected {
  /** The process's names, shared by the graph, the directory and (through the journal) the room files' offsets. */
  names = new NameTable();
  graph = new FollowGraph(this.names);
  /** Every room's key (its deciding create: room-key.ts). */
  keys = new RoomKeyTable(this.names);
  /** Every room (= user), sorted: what `list` pages through; and by case-folded name. */
  rooms = new RoomDirectory();
  /** Bytes of the lines each user wrote (posts, joins, leaves, creations), whether they count or not: what the storage quota counts. */
  authored = new NameNumbers(this.names);
  parked = new Map<string, ChatEvent[]>();
  /** Which seqs of each origin are here. */
  seqs = new OriginSeqs();
  /** During a bulk load: which seqs past the applied ones it has seen. */
  private bulk: BulkSeqs | null = null;

  constructor(readonly proved: Proved = () => false) {}

  /**
   * Offers an event. Returns the events to show, in apply order: this one and any it
   * unblocked or released (a post, join or leave waiting for its user's key), or none
   * if it is early, a duplicate, already held, or does not count (room-key.ts: counts).
   */
  offer(e: ChatEvent, bytes?: number): ChatEvent[] {
    if (!this.seqs.admit(e.origin, e.seq, { e, bytes })) return [];
    return applyEvents(this, [{ e, bytes }, ...this.seqs.release(e.origin)], lineBytes);
  }

  /**
   * Offers an event known only by its index record, one without effect on rooms or
   * the graph (a post whose line nobody here needs: `bytes` of it, by `author`): the
   * origin's next seq, or nothing. Returns what became applied past it (events it
   * unblocked), or null if it is not the next seq.
   */
  offerUnreadPost(origin: string, seq: number, author: string, bytes: number): ChatEvent[] | null {
    if (!this.seqs.admit(origin, seq)) return null;
    this.authored.add(author, bytes);
    return applyEvents(this, this.seqs.release(origin), lineBytes);
  }

  /**
   * A bulk load (a scan of the room files, room after room) takes each event's
   * effect at once, in any order, and notes only its seq (bulk-seqs.ts); endBulk()
   * then moves the vector over what turned out dense.
   */
  beginBulk(): void {
    this.bulk ??= new BulkSeqs();
  }

  /** Takes an event (its line `bytes` long) during a bulk load; false for one already had. */
  takeInBulk(e: ChatEvent, bytes: number): boolean {
    if (!this.bulk?.take(e.origin, e.seq, this.seqs.seqOf(e.origin))) return false;
    this.authored.add(e.author, bytes);
    effectOf(this, e, false);
    return true;
  }

  /**
   * Ends a bulk pass: each origin's vector moves to its last dense seq, and an origin
   * with a gap, which it reports, stays in bulk mode for another pass (a writer may
   * have appended the missing seq after its room was read). `last`: the load ends
   * here, each hole left open: the vector stops below it, and what a scan found past
   * it is kept as stored, to be passed over once the hole is filled.
   */
  endBulk(last = false): SeqGap[] {
    const bulk = this.bulk;
    if (last) this.bulk = null;
    if (bulk === null) return [];
    if (last) {
      for (const { origin, reached, past } of bulk.holdGaps()) {
        this.seqs.settle(origin, reached, past);
        applyEvents(this, this.seqs.release(origin), lineBytes);
      }
      return [];
    }
    const { reached, dense, gaps } = bulk.end();
    for (const [origin, seq] of reached) this.seqs.settle(origin, seq);
    for (const origin of dense) applyEvents(this, this.seqs.release(origin), lineBytes); // events a checkpoint held back may follow
    if (bulk.empty) this.bulk = null;
    return gaps;
  }

  /**
   * Takes over another index's state (a checkpoint's, or a new one's), in place:
   * whoever holds this index (the chat handlers, the replicator) sees the loaded state.
   */
  restore(from: EventIndex): void {
    this.names = from.names;
    this.graph = from.graph;
    this.keys = from.keys;
    this.rooms = from.rooms;
    this.authored = from.authored;
    this.parked = from.parked;
    this.seqs = from.seqs;
    this.bulk = null;
  }
}
