/**
 * A writer's reads of applied events: a page of them after a cursor, in key order,
 * read from the room files through the origin index (work bounded by the page, not
 * by history); one event by its index record, checked against the line it points
 * at; the last posts of rooms (their tails); a room's creations.
 */
import type { ChatEvent } from '../core/event';
import type { EventIndex } from '../core/event-index';
import type { IndexRecord } from '../core/index-record';
import { counts } from '../core/room-key';
import type { RoomTails } from '../core/room-tails';
import { advance, covers, type VersionVector } from '../core/version-vector';
import type { Logger } from '../common/log';
import { removeCheckpoint } from './checkpoint-file';
import { RECORDS_PER_READ, type OriginIndex } from './origin-index';
import type { RoomReader } from './room-reader';

/** The machine's index and checkpoint were dropped: every process of the machine must load again. */
export class IndexDropped extends Error {}

/** One page of events read from disk, and the cursor past it. */
export interface Page {
  events: ChatEvent[];
  cursor: VersionVector;
  /** Nothing is left between the cursor and the page's upper bound. */
  done: boolean;
}

/** One page of stored lines read from disk (see EventReads.pageLines), and the cursor past it. */
export interface LinesPage {
  lines: Buffer[];
  cursor: VersionVector;
  done: boolean;
}

/**
 * Whether a stored line holds `origin` and `seq` where eventToLine puts them, right
 * after the id: inside the id's JSON string a quote is escaped, so the id cannot fake it.
 */
function holdsOriginSeq(line: Buffer, origin: string, seq: number): boolean {
  const at = line.indexOf(`","origin":"${origin}","seq":${seq},"`);
  return at > 0 && line.lastIndexOf('"id":"', at) === 1;
}

/**
 * Index records one page may look at: a reader of a few quiet rooms resuming from
 * an old cursor gets short (even empty) pages whose cursor moves on, instead of one
 * call that reads the whole history while the event loop waits.
 */
const RECORDS_PER_PAGE = 32_768;

interface Candidate {
  origin: string;
  seq: number;
  rec: IndexRecord;
}

export class EventReads {
  constructor(
    private readonly machineDir: string,
    private readonly index: EventIndex,
    private readonly tails: RoomTails,
    private readonly origins: OriginIndex,
    private readonly reader: RoomReader,
    private readonly log: Logger,
    /** The index disagrees with the files: the process must restart. */
    private readonly fatal: (err: Error) => never,
  ) {}

  /**
   * Applied events after `cursor`, up to `upTo` (default: everything applied), whose
   * index record passes `keep` and whose event passes `confirm`: the first `max` of
   * them in key order, read from the room files, and the cursor past them (it also
   * covers what was passed over). Work is bounded by `max` and by
   * RECORDS_PER_PAGE, not by history; a page may hold fewer than `max` events
   * without being the last (`done` says).
   */
  page(
    cursor: VersionVector,
    keep: (r: IndexRecord, origin: string) => boolean,
    max: number,
    upTo: VersionVector = this.index.seqs.vector(),
    confirm: (e: ChatEvent) => boolean = () => true,
  ): Page {
    const { taken, next, done } = this.window(cursor, keep, max, upTo);
    const events: ChatEvent[] = [];
    for (const c of taken) {
      const e = this.read(c.origin, c.seq, c.rec);
      if (e && confirm(e)) events.push(e);
    }
    return { events, cursor: next, done };
  }

  /**
   * As `page` (every event, none confirmed), but each event as the bytes of its
   * stored line (without the newline): for a peer, which checks them as its input.
   * A line is checked to hold its index record's origin and seq where an event's
   * line has them, without a parse; one that does not is parsed and checked as
   * `read` does.
   */
  pageLines(cursor: VersionVector, max: number, upTo: VersionVector): LinesPage {
    const { taken, next, done } = this.window(cursor, () => true, max, upTo);
    const lines: Buffer[] = [];
    for (const c of taken) {
      const bytes = this.reader.readLineBytes(c.rec.room, c.rec.offset, c.rec.length);
      if (typeof bytes !== 'string' && holdsOriginSeq(bytes, c.origin, c.seq)) lines.push(bytes);
      else if (this.read(c.origin, c.seq, c.rec) && typeof bytes !== 'string') lines.push(bytes);
    }
    return { lines, cursor: next, done };
  }

  /** The candidates of one page, in key order, and the cursor past them. */
  private window(cursor: VersionVector, keep: (r: IndexRecord, origin: string) => boolean, max: number, upTo: VersionVector): { taken: Candidate[]; next: VersionVector; done: boolean } {
    const { found, scannedTo } = this.candidates(cursor, keep, max, upTo);
    found.sort((a, b) => a.rec.wall - b.rec.wall || a.rec.logical - b.rec.logical || (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : a.seq - b.seq));
    const next = new Map(cursor);
    for (const [origin, seq] of scannedTo) advance(next, origin, seq);
    // An origin with candidates left over resumes at its first one.
    for (const c of found.slice(max)) if (c.seq - 1 < (next.get(c.origin) ?? 0)) next.set(c.origin, c.seq - 1);
    const done = found.length <= max && [...upTo].every(([origin, top]) => covers(next, origin, top));
    return { taken: found.slice(0, max), next, done };
  }

  /** Per origin, the first `max` records after `cursor` that `keep` passes, within RECORDS_PER_PAGE in all; and how far each origin was looked at. */
  private candidates(
    cursor: VersionVector,
    keep: (r: IndexRecord, origin: string) => boolean,
    max: number,
    upTo: VersionVector,
  ): { found: Candidate[]; scannedTo: Map<string, number> } {
    const found: Candidate[] = [];
    const scannedTo = new Map<string, number>();
    let budget = RECORDS_PER_PAGE;
    for (const [origin, top] of upTo) {
      let seq = cursor.get(origin) ?? 0;
      let taken = 0;
      while (seq < top && taken < max && budget > 0) {
        const recs = this.origins.read(origin, seq + 1, Math.min(RECORDS_PER_READ, top - seq, budget));
        budget -= recs.length;
        for (const rec of recs) {
          seq++;
          if (rec === null) {
            this.log.warn('no index record for an applied event (a seq lost for good?)', { origin, seq });
          } else if (keep(rec, origin)) {
            found.push({ origin, seq, rec });
            if (++taken >= max) break;
          }
        }
      }
      scannedTo.set(origin, seq);
    }
    return { found, scannedTo };
  }

  /**
   * One event through its index record, checked against the line it points at;
   * null if that line is corrupt (the event is lost here, as a full scan would find).
   */
  read(origin: string, seq: number, rec: IndexRecord): ChatEvent | null {
    const line = this.reader.readLine(rec.room, rec.offset, rec.length);
    if ('event' in line && line.event.origin === origin && line.event.seq === seq) return line.event;
    // The index is derived data: drop it and the checkpoint, and restart to rebuild both from the room
    // files. A line damaged after a checkpoint covered it is found by that rebuild's scan, moved to
    // quarantine and its seq held open, so the replicator fetches the event again from a peer.
    const why = 'corrupt' in line ? `is corrupt (${line.corrupt})` : 'missing' in line ? line.missing : `holds ${line.event.origin}#${line.event.seq}`;
    this.log.error('index disagrees with its room file; rebuilding', { origin, seq, room: rec.room, offset: rec.offset, found: why });
    removeCheckpoint(this.machineDir);
    this.origins.remove();
    return this.fatal(new IndexDropped(`index record ${origin}#${seq} points at a line that ${why}`));
  }

  /** The last `limit` posts of the given rooms, oldest first (at most a room tail's worth). */
  lastPosts(rooms: Iterable<string>, limit: number): ChatEvent[] {
    return this.tails.lastPosts(rooms, Math.min(limit, this.tails.keep));
  }

  /** Whether an event counts here: made with its user's key, as far as this machine knows it (core/room-key.ts: counts). */
  counts(e: ChatEvent): boolean {
    return counts(e, (user) => this.index.keys.fingerprintOf(user));
  }

  /** The room's create events stored here so far (see RoomReader.readCreates). */
  roomCreates(room: string): ChatEvent[] {
    return this.reader.readCreates(room);
  }
}
