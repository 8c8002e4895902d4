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
import type { HybridClock } from '../core/hlc';
import type { IndexRecord } from '../core/index-record';
import { parseLine } from '../core/room-log';
import { advance } from '../core/version-vector';
import type { WalPosition } from '../core/wal-position';
import type { WalPart } from '../core/wal-record';
import { errorMessage, type Logger } from '../common/log';
import { timeSlicer } from '../common/time-slice';
import { RECORDS_PER_READ, type OriginIndex } from './origin-index';
import type { RoomFiles } from './room-files';

/** Write-ahead log records a merged doorbell reads at most (each holds up to one commit's lines); past them lines are read one by one. */
const RECORDS_PER_RING = 8;

/** One doorbell: the rooms another writer committed to; with `upTo`, its top seq per origin, and its log record. */
export interface Ring {
  rooms: string[];
  upTo?: Record<string, number>;
  record?: WalPosition;
}

/** What the reader needs of its writer. */
export interface DoorbellWriter {
  readonly files: RoomFiles;
  readonly origins: OriginIndex;
  readonly clock: HybridClock;
  readonly log: Logger;
  /** The writer's index. */
  readonly index: EventIndex;
  /** A load is running (it reads the rooms itself). */
  loading(): boolean;
  /** Whether a post to `room` another writer stored must be read: its tail is cached, or a listener wants it. */
  postsWanted(room: string): boolean;
  /** One more event applied since the last checkpoint. */
  counted(): void;
  /** Events just applied: into the clock, the tails and the listeners. */
  publish(applied: ChatEvent[]): void;
  /** An event read with its line (`bytes` long): offered to the index, what that applies published, and heard by every-event listeners. */
  admit(e: ChatEvent, bytes: number): void;
  /** One event through its index record, checked against its line. */
  readEvent(origin: string, seq: number, rec: IndexRecord): ChatEvent | null;
  /** Reads what other writers appended to these rooms. */
  refresh(rooms: string[]): Promise<void>;
}

export class DoorbellReader {
  /** Doorbells waiting to be read, merged: rooms to read from their files; rooms, seqs and records to learn from. */
  private readonly rung = { read: new Set<string>(), hinted: new Set<string>(), upTo: new Map<string, number>(), records: [] as WalPosition[], running: false };

  constructor(private readonly j: DoorbellWriter) {}

  /** Takes a doorbell; reads it (and any that come meanwhile) unless a read is running. */
  ring({ rooms, upTo, record }: Ring): void {
    const r = this.rung;
    for (const room of rooms) (upTo ? r.hinted : r.read).add(room);
    for (const [origin, seq] of Object.entries(upTo ?? {})) advance(r.upTo, origin, seq);
    if (record && upTo && r.records.length < RECORDS_PER_RING) r.records.push(record);
    if (!r.running) void this.readRung();
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
        await this.j.refresh([...new Set([...read, ...(unread ?? hinted)])]);
      } catch (err) {
        this.j.log.error('refresh failed', { error: errorMessage(err) });
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
    if (this.j.loading() || upTo.size === 0) return null;
    const slice = timeSlicer();
    // The commits' lines, per room, from their log records (one read each instead of one per line).
    const parts = new Map<string, WalPart[]>();
    for (const pos of records) {
      for (const p of this.j.files.readRecord(pos)?.parts ?? []) {
        const list = parts.get(p.room);
        if (list) list.push(p);
        else parts.set(p.room, [p]);
      }
    }
    /** Per room, lines learned past its read offset, not yet reached: offset -> end. */
    const ahead = new Map<string, Map<number, number>>();
    for (const [origin, top] of upTo) {
      for (let seq = this.j.index.seqOf(origin); seq < top; ) {
        const recs = this.j.origins.read(origin, seq + 1, Math.min(RECORDS_PER_READ, top - seq));
        for (const rec of recs) {
          seq++;
          if (rec === null || !this.learnOne(origin, seq, rec, parts)) return null;
          this.passLine(rec, ahead);
        }
        await slice();
      }
    }
    const unread = new Set<string>();
    for (const [room, lines] of ahead) if ([...lines.keys()].some((at) => at >= this.j.files.offsetOf(room))) unread.add(room);
    return unread;
  }

  /** Applies one event known by its index record; false if it is not the origin's next (read the files instead). */
  private learnOne(origin: string, seq: number, rec: IndexRecord, parts: Map<string, WalPart[]>): boolean {
    const had = this.j.index.seqOf(origin);
    if (seq <= had) return true; // read meanwhile (a refresh)
    if (seq !== had + 1) return false;
    this.j.counted();
    if (rec.kind === 'post' && !this.j.postsWanted(rec.room)) {
      const unblocked = this.j.index.offerUnread(origin, seq, rec.room, rec.length); // a post's author is its room
      if (unblocked === null) return false;
      this.j.clock.observe({ wall: rec.wall, logical: rec.logical });
      this.j.publish(unblocked);
      return true;
    }
    const e = lineIn(parts.get(rec.room), origin, seq, rec) ?? this.j.readEvent(origin, seq, rec);
    if (!e) return false;
    this.j.admit(e, rec.length);
    return true;
  }

  /** Moves the room's read offset over a learned line once every line before it is taken. */
  private passLine(rec: IndexRecord, ahead: Map<string, Map<number, number>>): void {
    const at = this.j.files.offsetOf(rec.room);
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
    this.j.files.passTo(rec.room, end);
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
