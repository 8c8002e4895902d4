/**
 * One writer's view of a machine's data: the event index kept in step with the
 * room files, and a group commit that batches every event submitted while the
 * previous batch was being written, so one lock and one fsync (of the machine's
 * write-ahead log) serve many posts. Events get their origin, dense seq and clock reading at write time,
 * under the lock, after catching up with the files, so each sorts after
 * everything stored before it. Events stamped elsewhere (replication) are
 * appended unchanged, in the same group commits.
 *
 * Memory holds the index (vector, rooms, follow graph) and the tails of the rooms
 * in use; events are read from the room files through the origin index, in pages.
 * A start reads the machine's checkpoint and then only the rooms the write-ahead log
 * names after the checkpoint's log position (every room file if the log cannot tell).
 */
import { type ChatEvent, type EventKind } from '../core/event';
import { EventIndex } from '../core/event-index';
import { HybridClock } from '../core/hlc';
import { isDiskFault } from '../core/disk-fault';
import { nameHash, type IndexRecord } from '../core/index-record';
import { RoomTails } from '../core/room-tails';
import type { VersionVector } from '../core/version-vector';
import type { Checkpoint } from '../core/checkpoint-format';
import type { WalPosition } from '../core/wal-position';
import { RoomOffsets } from '../core/room-offsets';
import { ROOM_CACHE_DEFAULTS } from '../common/config';
import { errorMessage, type Logger } from '../common/log';
import { timeSlicer } from '../common/time-slice';
import { readCheckpoint, removeCheckpoint, writeCheckpoint } from './checkpoint-file';
import { OriginIndex } from './origin-index';
import { CommitError, type RoomFiles, type Stored } from './room-files';
import { parseLine } from '../core/room-log';
import type { WalPart } from '../core/wal-record';

export interface Draft {
  id: string;
  kind: EventKind;
  room: string;
  author: string;
  text: string;
}

interface Waiting {
  draft: Draft;
  resolve: (e: ChatEvent) => void;
  reject: (err: Error) => void;
}

interface Incoming {
  events: ChatEvent[];
  resolve: (r: AppendResult) => void;
  reject: (err: Error) => void;
}

export interface AppendResult {
  /** Events of the call now stored here that were not before. */
  appended: number;
  /** Events refused because an earlier seq of their origin is missing here. */
  gapped: number;
}

/** What one commit of this writer added, for the machine's other readers (the doorbell). */
export interface Commit {
  rooms: string[];
  /** Per origin, the highest seq written. */
  upTo: Record<string, number>;
  /** Its write-ahead log record. */
  record?: WalPosition;
}

export class StorageError extends Error {}

/** The machine's index and checkpoint were dropped: every process of the machine must load again. */
export class IndexDropped extends Error {}

export interface JournalOptions {
  /** Rooms whose recent posts are kept in memory (LRU). */
  cachedRooms: number;
  /** Posts kept per cached room: the most a Timeline can return. */
  tailPosts: number;
  /** A start that had to scan at least this many events writes a checkpoint. */
  checkpointEvery: number;
  /**
   * Builds the machine's first checkpoint (and index) in a one-shot process, whose
   * memory goes when it exits (a scan of the whole history peaks far above what a
   * loaded process keeps), while this one waits and keeps answering its primary.
   * Resolves when that process is gone; without it, or if it left no checkpoint,
   * the build runs here.
   */
  buildElsewhere?: () => Promise<void>;
}

export const DEFAULT_JOURNAL_OPTIONS: JournalOptions = { ...ROOM_CACHE_DEFAULTS, checkpointEvery: 50_000 };

/** What the last load read past its checkpoint, and why (for tests and the load's log line). */
export interface LoadReport {
  /** Where the state came from: the checkpoint, or why the room files were scanned instead. */
  from: string;
  /** Why every room file was looked at; null: only the rooms the write-ahead log named past the checkpoint. */
  sweep: string | null;
  /** Room files looked at (stat, and read if grown). */
  rooms: number;
  /** Events read from them. */
  scanned: number;
}

/** One page of events read from disk, and the cursor past it. */
export interface Page {
  events: ChatEvent[];
  cursor: VersionVector;
  /** Nothing is left between the cursor and the page's upper bound. */
  done: boolean;
}

/** Index records read per origin per disk read. */
const RECORDS_PER_READ = 1_024;
/**
 * Index records one page may look at: a reader of a few quiet rooms resuming from
 * an old cursor gets short (even empty) pages whose cursor moves on, instead of one
 * call that reads the whole history while the event loop waits.
 */
const RECORDS_PER_PAGE = 32_768;
/** A load or refresh yields to the event loop at least this often, so the process keeps answering its primary. */
const LOAD_SLICE_MS = 50;
/** Write-ahead log records a merged doorbell reads at most (each holds up to one commit's lines); past them lines are read one by one. */
const RECORDS_PER_RING = 8;

export class Journal {
  index = new EventIndex();
  readonly tails: RoomTails;
  private readonly origins: OriginIndex;
  private readonly waiting = new Map<string, Waiting[]>();
  private queue: Draft[] = [];
  private incoming: Incoming[] = [];
  private flushing = false;
  private loading = false;
  private readonly deferred = new Set<string>();
  private nextSeq = 1;
  private sinceCheckpoint = 0;
  /**
   * A log position before which every record lies within this process's room
   * offsets (offsets only grow, so it stays true): where a checkpoint's walk for its
   * own position starts. Null: unknown, so a checkpoint first scans every room file.
   */
  private walCovered: WalPosition | null = null;
  /** The last load's report (null before one). */
  lastLoad: LoadReport | null = null;
  private readonly appliedListeners: { fn: (e: ChatEvent) => void; postsOf?: (room: string) => boolean }[] = [];
  private readonly committedListeners: ((c: Commit) => void)[] = [];
  /** Doorbells waiting to be read, merged: rooms to read from their files; rooms, seqs and records to learn from. */
  private readonly rung = { read: new Set<string>(), hinted: new Set<string>(), upTo: new Map<string, number>(), records: [] as WalPosition[], running: false };
  private readonly everyListeners: ((e: ChatEvent) => void)[] = [];

  constructor(
    private readonly files: RoomFiles,
    readonly origin: string,
    private readonly log: Logger,
    readonly clock = new HybridClock(),
    /** Called when the files and memory may disagree (fsync failed): the process must restart. */
    private readonly fatal: (err: Error) => never = (err) => {
      throw err;
    },
    private readonly opts: JournalOptions = DEFAULT_JOURNAL_OPTIONS,
  ) {
    this.origins = new OriginIndex(files.machineDir);
    files.restoreOffsets(new RoomOffsets(this.index.names)); // one name table for the index and the offsets
    this.tails = new RoomTails(opts.cachedRooms, opts.tailPosts, (room, keep) => files.readRecentPosts(room, keep));
  }

  /**
   * Every event that becomes visible here, from any writer, in apply order (a retried
   * post's copy is not). With `postsOf`, a post another writer stored is read only if
   * its room is cached or `postsOf(room)` (the rest are learned from their index records).
   */
  onApplied(fn: (e: ChatEvent) => void, postsOf?: (room: string) => boolean): void {
    this.appliedListeners.push({ fn, postsOf });
  }

  /** What this writer just committed (a doorbell for the machine's other readers). */
  onCommitted(fn: (c: Commit) => void): void {
    this.committedListeners.push(fn);
  }

  /**
   * Every event read from or written to the files after the load, right after the
   * index took it, shown or not: a retried post's second copy still fills its
   * origin's slot, so replication must ship it too.
   */
  onEveryEvent(fn: (e: ChatEvent) => void): void {
    this.everyListeners.push(fn);
  }

  /**
   * Loads the machine's state: its checkpoint, then whatever the room files hold
   * past it. One process at a time (the checkpoint lock): a machine's children
   * revived together on two cores each get the CPU in turn, so the first serves
   * after one load rather than all after three. Without a checkpoint (the first
   * start over a long history) the first process builds it, in a one-shot process
   * if it can, and the others then load that. Yields every 50 ms.
   */
  async load(): Promise<void> {
    await this.files.init();
    // A replay after a reboot may have rewritten room bytes anywhere: then every room file is read.
    const replayed = await this.files.recover().catch((err: unknown) => {
      if (!isDiskFault(err)) throw err;
      this.log.warn('write-ahead log recovery left to the first commit (disk fault)', { error: errorMessage(err) });
      return true;
    });
    this.loading = true;
    const started = Date.now();
    let report: Omit<LoadReport, 'from'> = { sweep: null, rooms: 0, scanned: 0 };
    let from = 'checkpoint';
    await this.files.withCheckpointLock(async () => {
      let checkpoint = readCheckpoint(this.files.machineDir);
      if (typeof checkpoint === 'string' && this.opts.buildElsewhere) {
        const why = checkpoint;
        await this.opts.buildElsewhere();
        checkpoint = readCheckpoint(this.files.machineDir);
        if (typeof checkpoint !== 'string') from = `checkpoint built by a one-shot process (${why})`;
      }
      if (typeof checkpoint === 'string') from = `room files (${checkpoint})`;
      report = await this.restoreAndScan(checkpoint, replayed);
      // A load that had to read every room file writes one the next can use (e.g. after an upgrade, whose checkpoint names no log position).
      const stale = typeof checkpoint === 'string' || report.sweep !== null || report.scanned >= this.opts.checkpointEvery;
      if (stale && !this.index.hasStoredPastHoles()) {
        // Derived data: without it the next start scans more, so a full disk only defers it.
        await this.checkpointNow().catch((err: unknown) => {
          if (!isDiskFault(err)) throw err;
          this.log.warn('checkpoint not written (disk fault)', { error: errorMessage(err) });
        });
      }
    });
    this.loading = false;
    this.nextSeq = this.index.topSeq(this.origin) + 1;
    this.lastLoad = { from, ...report };
    this.log.info('loaded room files', {
      from,
      scanned: report.scanned,
      sweep: report.sweep,
      roomFiles: report.rooms,
      ms: Date.now() - started,
      rooms: this.index.rooms.size,
      follows: this.index.graph.size,
      nextSeq: this.nextSeq,
    });
    const rung = [...this.deferred];
    this.deferred.clear();
    await this.refresh(rung);
  }

  /**
   * Builds the machine's checkpoint and index from the room files alone; for a
   * one-shot builder process whose caller holds the checkpoint lock.
   */
  async build(): Promise<void> {
    await this.files.init();
    this.loading = true;
    const started = Date.now();
    const { scanned } = await this.restoreAndScan('building', true);
    // A hole waiting for a peer is not written down: the loaders must scan and hold it open themselves.
    if (this.index.hasStoredPastHoles()) return this.log.warn('no checkpoint built: a seq is missing until a peer sends it', { scanned });
    await this.checkpointNow();
    this.log.info('built checkpoint', { scanned, ms: Date.now() - started, rooms: this.index.rooms.size, follows: this.index.graph.size });
  }

  /**
   * Starts from the checkpoint (or from nothing) and takes what the room files hold
   * past it: the rooms the write-ahead log names after the checkpoint's position, or
   * every room file if the log cannot tell (`replayed`: a reboot's replay may have
   * rewritten any of them).
   */
  private async restoreAndScan(checkpoint: Checkpoint | string, replayed: boolean): Promise<Omit<LoadReport, 'from'>> {
    let walFrom: WalPosition | null = null;
    let sweep: string | null = 'no checkpoint';
    if (typeof checkpoint === 'string') {
      this.index = new EventIndex();
      this.files.restoreOffsets(new RoomOffsets(this.index.names));
    } else {
      this.index = EventIndex.fromSnapshot(checkpoint.index);
      this.clock.observe(checkpoint.clock);
      this.files.restoreOffsets(new RoomOffsets(this.index.names, checkpoint.offsets));
      walFrom = replayed ? null : checkpoint.wal;
      sweep = replayed ? 'the write-ahead log was replayed' : walFrom === null ? 'the checkpoint names no log position' : null;
    }
    // The rooms to read: those the log names past the checkpoint, or (undefined) every room file.
    const plan = (): Set<string> | undefined => {
      if (walFrom === null) return undefined;
      const named = this.files.walRoomsSince(walFrom);
      if (typeof named !== 'string') return named;
      [sweep, walFrom] = [named, null];
      return undefined;
    };
    let rooms = plan();
    // A sweep covers the log up to a position pinned before it: every record before that is in the files it reads.
    this.walCovered = walFrom ?? (await this.pinWal());
    this.index.beginBulk();
    let { rooms: looked, events: scanned } = await this.scan(rooms);
    if (this.index.endBulk().length > 0 || this.index.heldBack() > 0) {
      // Gaps: a writer may have appended while we scanned without the lock. Look
      // again holding it, at the log as it is now (no commit is in flight); what is
      // still missing then (a corrupt line, moved to quarantine now) is held open,
      // so the replicator's next pull fetches it from a peer.
      scanned += await this.files.withLock(async () => {
        if (rooms !== undefined && (rooms = plan()) === undefined) this.walCovered = null; // the log moved on meanwhile
        const again = await this.scan(rooms);
        looked += again.rooms;
        this.files.quarantineSuspects();
        return again.events;
      });
      this.index.holdGaps();
      for (const gap of this.index.holes()) this.log.warn('sequence gap in stored events; waiting for a peer to send it', gap);
    }
    return { sweep, rooms: looked, scanned };
  }

  /** The log's position now, with every record before it in the room files (null if a disk fault refused the look). */
  private async pinWal(): Promise<WalPosition | null> {
    return this.files.walPosition().catch((err: unknown) => {
      if (!isDiskFault(err)) throw err;
      return null;
    });
  }

  /**
   * A doorbell: another writer of this machine committed to `rooms`, up to `upTo` per
   * origin. Doorbells are merged and read one at a time. With `upTo`, the events are
   * learned from their index records (which that writer wrote before ringing): the
   * lines of joins, leaves, creations and the posts someone here needs are read
   * (one pread each), the rest only move the vector and the rooms' read offsets, so
   * a catch-up's million posts are not read and parsed again by every worker. The
   * rooms' files are read for whatever that cannot cover.
   */
  ring({ rooms, upTo, record }: { rooms: string[]; upTo?: Record<string, number>; record?: WalPosition }): void {
    const r = this.rung;
    for (const room of rooms) (upTo ? r.hinted : r.read).add(room);
    for (const [origin, seq] of Object.entries(upTo ?? {})) r.upTo.set(origin, Math.max(seq, r.upTo.get(origin) ?? 0));
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
        await this.refresh([...new Set([...read, ...(unread ?? hinted)])]);
      } catch (err) {
        this.log.error('refresh failed', { error: errorMessage(err) });
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
    if (this.loading || upTo.size === 0) return null;
    const slice = timeSlicer(LOAD_SLICE_MS);
    // The commits' lines, per room, from their log records (one read each instead of one per line).
    const parts = new Map<string, WalPart[]>();
    for (const pos of records) {
      for (const p of this.files.readRecord(pos)?.parts ?? []) {
        const list = parts.get(p.room);
        if (list) list.push(p);
        else parts.set(p.room, [p]);
      }
    }
    /** Per room, lines learned past its read offset, not yet reached: offset -> end. */
    const ahead = new Map<string, Map<number, number>>();
    for (const [origin, top] of upTo) {
      for (let seq = this.index.seqOf(origin); seq < top; ) {
        const recs = this.origins.read(origin, seq + 1, Math.min(RECORDS_PER_READ, top - seq));
        for (const rec of recs) {
          seq++;
          if (rec === null || !this.learnOne(origin, seq, rec, parts)) return null;
          this.passLine(rec, ahead);
        }
        await slice();
      }
    }
    const unread = new Set<string>();
    for (const [room, lines] of ahead) if ([...lines.keys()].some((at) => at >= this.files.offsetOf(room))) unread.add(room);
    return unread;
  }

  /** Applies one event known by its index record; false if it is not the origin's next (read the files instead). */
  private learnOne(origin: string, seq: number, rec: IndexRecord, parts: Map<string, WalPart[]>): boolean {
    const had = this.index.seqOf(origin);
    if (seq <= had) return true; // read meanwhile (a refresh)
    if (seq !== had + 1) return false;
    this.sinceCheckpoint++;
    if (rec.kind === 'post' && !this.postsWanted(rec.room)) {
      const unblocked = this.index.offerUnread(origin, seq);
      if (unblocked === null) return false;
      this.clock.observe({ wall: rec.wall, logical: rec.logical });
      this.show(unblocked);
      return true;
    }
    const e = lineIn(parts.get(rec.room), origin, seq, rec) ?? this.readEvent(origin, seq, rec);
    if (!e) return false;
    this.show(this.index.offer(e));
    for (const fn of this.everyListeners) fn(e);
    return true;
  }

  /** Whether a post to `room` stored elsewhere must be read: its tail is cached, or a listener wants it. */
  private postsWanted(room: string): boolean {
    return this.everyListeners.length > 0 || this.tails.cached(room) || this.appliedListeners.some((l) => !l.postsOf || l.postsOf(room));
  }

  /** Moves the room's read offset over a learned line once every line before it is taken. */
  private passLine(rec: IndexRecord, ahead: Map<string, Map<number, number>>): void {
    const at = this.files.offsetOf(rec.room);
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
    this.files.passTo(rec.room, end);
  }

  /** Reads what other writers appended to these rooms. */
  async refresh(rooms: string[]): Promise<void> {
    if (this.loading) {
      for (const room of rooms) this.deferred.add(room);
      return;
    }
    const slice = timeSlicer(LOAD_SLICE_MS); // a doorbell after a big replicated batch names thousands of rooms
    for (const room of rooms) {
      for (const s of await this.files.readNew(room)) this.take(s);
      await slice();
    }
    this.origins.flush();
  }

  /**
   * Writes the machine's checkpoint from this process's state, unless a commit is
   * in flight (its lines may be past the offsets but not yet in the index) or
   * another process holds the checkpoint lock. Returns whether it wrote one.
   */
  async checkpoint(): Promise<boolean> {
    // Not while a hole is open: the next start must scan the lines stored past it again.
    if (this.flushing || this.loading || this.index.hasStoredPastHoles()) return false;
    if (this.walCovered === null || !this.files.walHolds(this.walCovered)) {
      // The log no longer reaches back to what we know we covered: pin its position now and read
      // every room file grown past our offsets (yielding), so the checkpoint can name a position.
      this.walCovered = await this.pinWal();
      await this.refresh(await this.files.roomsGrown());
      if (this.flushing || this.loading) return false;
    }
    const wrote = await this.files.withCheckpointLock(async () => {
      if (this.flushing) return false;
      await this.checkpointNow();
      return true;
    }, false);
    return wrote === true;
  }

  /** Events applied here since the last checkpoint this process wrote or loaded. */
  get uncheckpointed(): number {
    return this.sinceCheckpoint;
  }

  /** The last `limit` posts of the given rooms, oldest first (at most a room tail's worth). */
  lastPosts(rooms: Iterable<string>, limit: number): ChatEvent[] {
    return this.tails.lastPosts(rooms, Math.min(limit, this.tails.keep));
  }

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
    keep: (r: IndexRecord) => boolean,
    max: number,
    upTo: VersionVector = this.index.vector(),
    confirm: (e: ChatEvent) => boolean = () => true,
  ): Page {
    interface Candidate {
      origin: string;
      seq: number;
      rec: IndexRecord;
    }
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
          } else if (keep(rec)) {
            found.push({ origin, seq, rec });
            if (++taken >= max) break;
          }
        }
      }
      scannedTo.set(origin, seq);
    }
    found.sort((a, b) => a.rec.wall - b.rec.wall || a.rec.logical - b.rec.logical || (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : a.seq - b.seq));
    const next = new Map(cursor);
    for (const [origin, seq] of scannedTo) if (seq > (next.get(origin) ?? 0)) next.set(origin, seq);
    const taken = found.slice(0, max);
    // An origin with candidates left over resumes at its first one.
    for (const c of found.slice(max)) if (c.seq - 1 < (next.get(c.origin) ?? 0)) next.set(c.origin, c.seq - 1);
    const events: ChatEvent[] = [];
    for (const c of taken) {
      const e = this.readEvent(c.origin, c.seq, c.rec);
      if (e && confirm(e)) events.push(e);
    }
    const done = found.length <= max && [...upTo].every(([origin, top]) => (next.get(origin) ?? 0) >= top);
    return { events, cursor: next, done };
  }

  /** The room's create events stored here so far (see RoomFiles.readCreates). */
  roomCreates(room: string): ChatEvent[] {
    return this.files.readCreates(room);
  }

  /** Stores an event durably; a draft whose id is already stored resolves to the stored event. */
  submit(draft: Draft): Promise<ChatEvent> {
    const known = this.stored(draft);
    if (known) return Promise.resolve(known);
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(draft.id);
      if (list) list.push({ draft, resolve, reject });
      else {
        this.waiting.set(draft.id, [{ draft, resolve, reject }]);
        this.queue.push(draft);
      }
      if (!this.flushing) void this.flush();
    });
  }

  /**
   * Appends events stamped on other machines, keeping their origin, seq and clock.
   * Group-committed with everything else waiting; an event whose (origin, seq) is
   * already here is skipped, and one whose origin has an earlier seq missing here
   * is refused (a gap would be settled past at the next load and never filled).
   */
  appendStamped(events: ChatEvent[]): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.incoming.push({ events, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.queue.length > 0 || this.incoming.length > 0) {
      if (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        await this.commitBatch(batch);
      }
      if (this.incoming.length > 0) {
        const calls = this.incoming;
        this.incoming = [];
        await this.commitIncoming(calls);
      }
    }
    this.flushing = false;
  }

  private async commitBatch(batch: Draft[]): Promise<void> {
    const byRoom = groupByRoom(batch);
    const { written, failure } = await this.commitRooms('group commit', [...byRoom.keys()], batch.length, (room) =>
      this.stamp(byRoom.get(room) ?? []),
    );
    // Seqs handed out but never written go back, so our origin stays gap-free.
    this.nextSeq = (written.length > 0 ? written[written.length - 1].event.seq : this.index.topSeq(this.origin)) + 1;
    this.takeAll(written);
    this.notifyCommitted(written);
    const byId = new Map(written.map((s) => [s.event.id, s.event]));
    for (const d of batch) {
      const stored = byId.get(d.id) ?? this.stored(d);
      for (const w of this.waiting.get(d.id) ?? []) {
        if (stored) w.resolve(stored);
        else w.reject(failure ?? new StorageError('event was not stored'));
      }
      this.waiting.delete(d.id);
    }
  }

  /**
   * One commit of `rooms` under the machine lock, taking in what other writers appended
   * first. A commit refused for a disk fault returns why (the writes resume by
   * themselves once there is room); anything else is fatal.
   */
  private async commitRooms(
    what: string,
    rooms: string[],
    batchSize: number,
    prepare: (room: string) => ChatEvent[],
  ): Promise<{ written: Stored[]; failure: Error | null }> {
    try {
      return { written: await this.files.commit(rooms, (fresh) => this.takeAll(fresh), prepare), failure: null };
    } catch (err) {
      if (!(err instanceof CommitError)) this.fatal(err as Error);
      const failure = new StorageError(`storage unavailable: ${errorMessage((err as CommitError).cause)}`);
      this.log.error(`${what} failed`, { error: failure.message, batch: batchSize });
      return { written: [], failure };
    }
  }

  private async commitIncoming(calls: Incoming[]): Promise<void> {
    const next = new Map<string, number>();
    const accepted: ChatEvent[] = [];
    const mine = calls.map(({ events }) => {
      const taken: ChatEvent[] = [];
      let gapped = 0;
      for (const e of events) {
        let n = next.get(e.origin) ?? this.index.seqOf(e.origin) + 1;
        while (this.index.has(e.origin, n)) n++; // stored here past a hole: the hole is what is wanted
        if (e.seq < n || this.index.has(e.origin, e.seq)) continue;
        if (e.seq > n) gapped++;
        else {
          next.set(e.origin, n + 1);
          taken.push(e);
        }
      }
      accepted.push(...taken);
      return { taken, gapped };
    });
    let written: Stored[] = [];
    let failure: Error | null = null;
    if (accepted.length > 0) {
      const byRoom = groupByRoom(accepted);
      ({ written, failure } = await this.commitRooms('replicated append', [...byRoom.keys()], accepted.length, (room) =>
        // Skip what another writer appended meanwhile (e.g. one finishing a commit whose writer died).
        (byRoom.get(room) ?? []).filter((e) => !this.index.has(e.origin, e.seq)),
      ));
      this.takeAll(written);
      this.notifyCommitted(written);
    }
    const stored = new Set(written.map((s) => s.event));
    calls.forEach((c, i) => {
      if (failure) c.reject(failure);
      else c.resolve({ appended: mine[i].taken.filter((e) => stored.has(e)).length, gapped: mine[i].gapped });
    });
  }

  private notifyCommitted(written: Stored[]): void {
    if (written.length === 0) return;
    const rooms = [...new Set(written.map((s) => s.event.room))];
    const upTo: Record<string, number> = {};
    for (const { event: e } of written) upTo[e.origin] = Math.max(e.seq, upTo[e.origin] ?? 0);
    const record = this.files.lastRecord ?? undefined;
    for (const fn of this.committedListeners) fn({ rooms, upTo, record });
  }

  /** Gives drafts that are not yet stored their origin, seq and timestamp. */
  private stamp(drafts: Draft[]): ChatEvent[] {
    // A refilled data dir may hold this slot's events from before it was lost: carry on after them.
    this.nextSeq = Math.max(this.nextSeq, this.index.topSeq(this.origin) + 1);
    const out: ChatEvent[] = [];
    for (const d of drafts) {
      if (this.stored(d)) continue; // stored by another writer meanwhile
      out.push({ ...d, origin: this.origin, seq: this.nextSeq++, hlc: this.clock.now() });
    }
    return out;
  }

  /** The stored event a draft's id names, if any: a room's creation, or a post still in its room's tail. */
  private stored(d: Draft): ChatEvent | undefined {
    if (d.kind === 'create') {
      // A claim (a key for a room created before keys) is stored beside the keyless creation.
      const first = this.index.userExists(d.room) ? this.files.readFirst(d.room) : null;
      return first && (first.text !== '' || d.text === '') ? first : undefined;
    }
    if (d.kind === 'post') return this.tails.get(d.room).get(d.id);
    return undefined; // join and leave ids are made fresh for each request
  }

  /** Takes events read from or written to the room files, then writes their index records. */
  private takeAll(stored: Stored[]): void {
    for (const s of stored) this.take(s);
    this.origins.flush();
  }

  private take({ event: e, offset, length }: Stored): void {
    this.origins.write(e.origin, e.seq, {
      room: e.room,
      offset,
      length,
      kind: e.kind,
      wall: e.hlc.wall,
      logical: e.hlc.logical,
      authorHash: nameHash(e.author),
    });
    this.sinceCheckpoint++;
    if (this.loading) {
      if (this.index.absorb(e)) this.clock.observe(e.hlc);
      return;
    }
    this.show(this.index.offer(e));
    for (const fn of this.everyListeners) fn(e);
  }

  /** Events just applied: into the clock, the tails and the listeners. */
  private show(applied: ChatEvent[]): void {
    for (const e of applied) {
      this.clock.observe(e.hlc);
      // A retried post's second copy fills its slot but is not shown again.
      const shown = e.kind !== 'post' || this.tails.take(e);
      if (!shown) continue;
      for (const l of this.appliedListeners) l.fn(e);
    }
  }

  /** Scans the given room files (default: all) past our offsets; returns the files looked at and the events read. */
  private async scan(rooms?: Iterable<string>): Promise<{ rooms: number; events: number }> {
    let events = 0;
    const slice = timeSlicer(LOAD_SLICE_MS);
    const looked = await this.files.scanNew(async (stored) => {
      this.takeAll(stored);
      events += stored.length;
      await slice();
    }, rooms);
    return { rooms: looked, events };
  }

  /**
   * Writes the checkpoint of what this process holds now (the caller holds the
   * checkpoint lock): the state is taken in one synchronous step, the waits for the
   * disk (the index, then the file) run off the event loop.
   */
  private async checkpointNow(): Promise<void> {
    const started = Date.now();
    // The log position these offsets cover: the first record past them, walked from one they covered already.
    const found = this.walCovered === null ? 'no covered position known' : this.files.walCoveredFrom(this.walCovered);
    const wal = typeof found === 'string' ? null : found;
    const index = this.index.snapshot();
    const offsets = this.files.offsetsSnapshot(index.names.length);
    const clock = this.clock.current();
    const covered = this.sinceCheckpoint;
    await this.origins.sync();
    const bytes = await writeCheckpoint(this.files.machineDir, { index, clock, offsets, wal });
    this.sinceCheckpoint -= covered; // not before: a checkpoint a full disk refused is tried again
    this.walCovered = wal;
    if (wal !== null) this.files.retireLog();
    this.log.info('wrote checkpoint', { bytes, rooms: index.rooms.length, follows: index.graph.room.length, wal: wal ?? found, ms: Date.now() - started });
  }

  /**
   * One event through its index record, checked against the line it points at;
   * null if that line is corrupt (the event is lost here, as a full scan would find).
   */
  private readEvent(origin: string, seq: number, rec: IndexRecord): ChatEvent | null {
    const line = this.files.readLine(rec.room, rec.offset, rec.length);
    if ('event' in line && line.event.origin === origin && line.event.seq === seq) return line.event;
    // The index is derived data: drop it and the checkpoint, and restart to rebuild both from the room
    // files. A line damaged after a checkpoint covered it is found by that rebuild's scan, moved to
    // quarantine and its seq held open, so the replicator fetches the event again from a peer.
    const why = 'corrupt' in line ? `is corrupt (${line.corrupt})` : 'missing' in line ? line.missing : `holds ${line.event.origin}#${line.event.seq}`;
    this.log.error('index disagrees with its room file; rebuilding', { origin, seq, room: rec.room, offset: rec.offset, found: why });
    removeCheckpoint(this.files.machineDir);
    this.origins.remove();
    return this.fatal(new IndexDropped(`index record ${origin}#${seq} points at a line that ${why}`));
  }
}

function groupByRoom<T extends { room: string }>(events: T[]): Map<string, T[]> {
  const byRoom = new Map<string, T[]>();
  for (const e of events) {
    const list = byRoom.get(e.room);
    if (list) list.push(e);
    else byRoom.set(e.room, [e]);
  }
  return byRoom;
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
