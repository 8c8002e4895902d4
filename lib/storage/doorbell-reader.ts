/**
 * A writer reading the doorbells of the machine's other writers: each says which
 * rooms a commit wrote, up to which seq per origin, and where its write-ahead log
 * record lies. Doorbells are merged and read one at a time. The events are learned
 * from their index records (which that writer wrote before ringing): the lines of
 * joins, leaves, creations and the posts someone here needs are taken from the log
 * record (or read, one pread each), the rest only move the vector and the rooms'
 * read offsets, so a catch-up's million posts are not read and parsed again by
 * every worker. The rooms' files are read for whatever that cannot cover.
 */
import type { ChatEvent } from '../core/event';
import type { EventIndex } from '../core/event-index';
import type { IndexRecord } from '../core/index-record';
import { parseLine } from '../core/room-log';
import { advance } from '../core/version-vector';
import type { WalPosition } from '../core/wal-position';
import type { WalPart } from '../core/wal-record';
import { errorMessage, type Logger } from '../common/log';
import { timeSlicer } from '../common/time-slice';
import { RECORDS_PER_READ, type OriginIndex } from './origin-index';
import type { RoomReader } from './room-reader';
import type { RoomOffsets } from './room-offsets';
import type { WalReader } from './wal-reader';
import type { EventPublisher } from './event-publisher';
import type { EventReads } from './event-reads';

/** Write-ahead log records a merged doorbell reads at most (each holds up to one commit's lines); past them lines are read one by one. */
const RECORDS_PER_RING = 8;

/** One doorbell: the rooms another writer committed to; with `upTo`, its top seq per origin, and its log record. */
export interface Ring {
  rooms: string[];
  upTo?: Record<string, number>;
  record?: WalPosition;
}

/** What the reader reads from, and where what it reads goes. */
export interface DoorbellParts {
  readonly reader: RoomReader;
  readonly offsets: RoomOffsets;
  /** The write-ahead log, where a doorbell's commit record lies. */
  readonly wal: WalReader;
  readonly origins: OriginIndex;
  readonly log: Logger;
  /** The writer's index. */
  readonly index: EventIndex;
  readonly publisher: EventPublisher;
  /** One event through its index record, checked against its line. */
  readonly reads: EventReads;
}

export class DoorbellReader {
  /** Doorbells waiting to be read, merged: rooms to read from their files; rooms, seqs and records to learn from. */
  private readonly rung = { read: new Set<string>(), hinted: new Set<string>(), upTo: new Map<string, number>(), records: [] as WalPosition[], running: false };
  /** The last read of doorbells started: it ends once none is left to read. */
  private reading = Promise.resolve();
  /**
   * Rooms rung while the load runs: the load's to read (after it, see readDeferred). A
   * worker listens before it loads, and a doorbell taken into the empty state would
   * learn the machine's whole history from seq 1 (at 10,000,000 events: seconds of
   * CPU, before and after the load, in every revived child).
   */
  private readonly deferred = new Set<string>();

  constructor(private readonly d: DoorbellParts) {}

  /** Takes a doorbell; reads it (and any that come meanwhile) unless a read is running. */
  ring({ rooms, upTo, record }: Ring): void {
    if (this.d.publisher.loading) return this.defer(rooms);
    const r = this.rung;
    for (const room of rooms) (upTo ? r.hinted : r.read).add(room);
    for (const [origin, seq] of Object.entries(upTo ?? {})) advance(r.upTo, origin, seq);
    if (record && upTo && r.records.length < RECORDS_PER_RING) r.records.push(record);
    if (!r.running) this.reading = this.readRung();
  }

  /**
   * A caller's refresh (a user another writer just created, say): these rooms' new
   * lines, applied. An event there may be held behind its origin's earlier events,
   * which lie in other rooms while their doorbell is still on its way; those are
   * learned first, from the origin's index records (written before its writer
   * answered), so a user's acknowledged write is seen by their next call on any writer.
   */
  async refresh(rooms: string[]): Promise<void> {
    const behind = new Map<string, number>();
    await this.readRooms(rooms, (e) => {
      if (this.d.index.seqs.seqOf(e.origin) < e.seq) advance(behind, e.origin, e.seq);
    });
    if (behind.size === 0) return;
    this.ring({ rooms, upTo: Object.fromEntries(behind) });
    await this.reading;
  }

  /** Reads what other writers appended to these rooms (after the load: during it, the load reads them). */
  async readRooms(rooms: string[], read?: (e: ChatEvent) => void): Promise<void> {
    if (this.d.publisher.loading) return this.defer(rooms);
    const slice = timeSlicer(); // a doorbell after a big replicated batch names thousands of rooms
    for (const room of rooms) {
      const stored = await this.d.reader.readNew(room);
      this.d.publisher.publishStored(stored, false);
      if (read) for (const s of stored) read(s.event);
      await slice();
    }
    this.d.origins.flush();
  }

  /** The load is over: reads the rooms rung meanwhile. */
  async readDeferred(): Promise<void> {
    const rooms = [...this.deferred];
    this.deferred.clear();
    await this.readRooms(rooms);
  }

  private defer(rooms: string[]): void {
    for (const room of rooms) this.deferred.add(room);
  }

  private async readRung(): Promise<void> {
    const r = this.rung;
    r.running = true;
    while (r.read.size > 0 || r.hinted.size > 0) {
      const read = [...r.read];
      const hinted = [...r.hinted];
      const upTo = new Map(r.upTo);
      const records = r.records;
      r.read.clear();
      r.hinted.clear();
      r.upTo.clear();
      r.records = [];
      try {
        const unread = await this.learn(upTo, records);
        await this.readRooms([...new Set([...read, ...(unread ?? hinted)])]);
      } catch (err) {
        this.d.log.error('refresh failed', { error: errorMessage(err) });
      }
    }
    r.running = false;
  }

  /**
   * Learns events other writers stored, up to `upTo`, from their index records.
   * Returns the rooms whose files must still be read (lines of other writers lie
   * between the ones learned), or null if the records cannot cover it all.
   */
  private async learn(upTo: Map<string, number>, records: WalPosition[]): Promise<Set<string> | null> {
    if (upTo.size === 0) return null;
    const slice = timeSlicer();
    // The commits' lines, per room, from their log records (one read each instead of one per line).
    const parts = new Map<string, WalPart[]>();
    for (const pos of records) {
      for (const p of this.d.wal.readAt(pos)?.parts ?? []) {
        const list = parts.get(p.room);
        if (list) list.push(p);
        else parts.set(p.room, [p]);
      }
    }
    /** Per room, lines learned past its read offset, not yet reached: offset -> end. */
    const ahead = new Map<string, Map<number, number>>();
    for (const [origin, top] of upTo) {
      for (let seq = this.d.index.seqs.seqOf(origin); seq < top; ) {
        const recs = this.d.origins.read(origin, seq + 1, Math.min(RECORDS_PER_READ, top - seq));
        for (const rec of recs) {
          seq++;
          if (rec === null || !this.learnOne(origin, seq, rec, parts)) return null;
          this.passLine(rec, ahead);
        }
        await slice();
      }
    }
    const unread = new Set<string>();
    for (const [room, lines] of ahead) if ([...lines.keys()].some((at) => at >= this.d.offsets.of(room))) unread.add(room);
    return unread;
  }

  /** Publishes one event known by its index record; false if it is not the origin's next (read the files instead). */
  private learnOne(origin: string, seq: number, rec: IndexRecord, parts: Map<string, WalPart[]>): boolean {
    const had = this.d.index.seqs.seqOf(origin);
    if (seq <= had) return true; // read meanwhile (a refresh)
    if (seq !== had + 1) return false;
    if (rec.kind === 'post' && !this.d.publisher.postsWanted(rec.room)) return this.d.publisher.publishUnread(origin, seq, rec);
    const e = lineIn(parts.get(rec.room), origin, seq, rec) ?? this.d.reads.read(origin, seq, rec);
    if (!e) return false;
    this.d.publisher.publishLearned(e, rec.length);
    return true;
  }

  /** Moves the room's read offset over a learned line once every line before it is taken. */
  private passLine(rec: IndexRecord, ahead: Map<string, Map<number, number>>): void {
    const at = this.d.offsets.of(rec.room);
    if (rec.offset < at) return;
    let end = rec.offset + rec.length + 1;
    let lines = ahead.get(rec.room);
    if (rec.offset > at) {
      if (!lines) ahead.set(rec.room, (lines = new Map()));
      lines.set(rec.offset, end);
      return;
    }
    for (let next = lines?.get(end); next !== undefined; next = lines?.get(end)) {
      lines?.delete(end);
      end = next;
    }
    this.d.offsets.passTo(rec.room, end);
  }
}

/** The event `rec` places, from a commit's log record parts, if they hold its line (and it is that event). */
function lineIn(parts: WalPart[] | undefined, origin: string, seq: number, rec: IndexRecord): ChatEvent | null {
  for (const p of parts ?? []) {
    const from = rec.offset - p.offset;
    if (from < 0 || from + rec.length >= p.data.length || p.data[from + rec.length] !== 0x0a) continue;
    const e = parseLine(p.data.toString('utf8', from, from + rec.length));
    if (typeof e !== 'string' && e.origin === origin && e.seq === seq) return e;
  }
  return null;
}
