/**
 * One writer's view of a machine's data: the event index kept in step with the
 * room files (through its own commits, group-commit.ts; the other writers'
 * doorbells, doorbell-reader.ts; and loads), its checkpoints, and reads of the
 * events through the origin index. Who hears of what: journal-listeners.ts.
 *
 * Memory holds the index (vector, rooms, follow graph) and the tails of the rooms
 * in use; events are read from the room files through the origin index, in pages.
 * A start reads the machine's checkpoint and then only the rooms the write-ahead log
 * names after the checkpoint's log position (every room file if the log cannot tell).
 */
import type { ChatEvent } from '../core/event';
import { EventIndex, type Proved } from '../core/event-index';
import { counts } from '../core/room-key';
import { HybridClock } from '../core/hlc';
import { isDiskFault } from '../core/disk-fault';
import type { IndexRecord } from '../core/index-record';
import { RoomTails } from '../core/room-tails';
import { advance, covers, type VersionVector } from '../core/version-vector';
import type { Checkpoint } from '../core/checkpoint-format';
import type { WalPosition } from '../core/wal-position';
import { NameNumbers } from '../core/name-numbers';
import { ROOM_CACHE_DEFAULTS } from '../common/config';
import { errorMessage, type Logger } from '../common/log';
import { timeSlicer } from '../common/time-slice';
import { readCheckpoint, removeCheckpoint, writeCheckpoint } from './checkpoint-file';
import { OriginIndex, RECORDS_PER_READ } from './origin-index';
import type { RoomFiles } from './room-files';
import { indexRecordOf, type Stored } from '../core/commit-plan';
import { GroupCommit, type AppendResult, type Commit, type Draft } from './group-commit';
import { JournalListeners } from './journal-listeners';
import { DoorbellReader, type Ring } from './doorbell-reader';

export { StorageError, type AppendResult, type Commit, type Draft } from './group-commit';

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
  /** Whether a create carries a valid proof that a majority settled its name (room-keys.ts: provedBy); default none. */
  proved?: Proved;
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

/**
 * Index records one page may look at: a reader of a few quiet rooms resuming from
 * an old cursor gets short (even empty) pages whose cursor moves on, instead of one
 * call that reads the whole history while the event loop waits.
 */
const RECORDS_PER_PAGE = 32_768;

export class Journal {
  /** The machine's events as this process knows them; a load restores it in place. */
  readonly index: EventIndex;
  readonly tails: RoomTails;
  private readonly origins: OriginIndex;
  private readonly commits: GroupCommit;
  private readonly doorbells: DoorbellReader;
  private readonly listeners = new JournalListeners();
  /**
   * True from construction until load() ends (a builder never loads): a doorbell rung meanwhile is the
   * load's to read. A worker listens before it loads, and a doorbell taken into the
   * empty state would learn the machine's whole history from seq 1 (at 10,000,000
   * events: seconds of CPU, before and after the load, in every revived child).
   */
  private loading = true;
  private readonly deferred = new Set<string>();
  private sinceCheckpoint = 0;
  /**
   * A log position before which every record lies within this process's room
   * offsets (offsets only grow, so it stays true): where a checkpoint's walk for its
   * own position starts. Null: unknown, so a checkpoint first scans every room file.
   */
  private walCovered: WalPosition | null = null;
  /** The last load's report (null before one). */
  lastLoad: LoadReport | null = null;

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
    this.index = new EventIndex(opts.proved);
    this.origins = new OriginIndex(files.machineDir);
    files.restoreOffsets(new NameNumbers(this.index.names)); // one name table for the index and the offsets
    // A room's tail read from its file holds only the posts that count.
    this.tails = new RoomTails(opts.cachedRooms, opts.tailPosts, (room, keep) => files.readRecentPosts(room, keep).filter((e) => this.counts(e)));
    this.commits = new GroupCommit({
      files,
      origin,
      clock,
      log,
      fatal,
      index: this.index,
      stored: (d) => this.stored(d),
      recordAll: (stored) => this.recordAll(stored),
      committed: (c) => this.listeners.committed(c),
    });
    this.doorbells = new DoorbellReader({
      files,
      origins: this.origins,
      clock,
      log,
      index: this.index,
      loading: () => this.loading,
      postsWanted: (room) => this.tails.cached(room) || this.listeners.wantPostsOf(room),
      counted: () => this.sinceCheckpoint++,
      publish: (applied) => this.publish(applied),
      admit: (e, bytes) => this.admit(e, bytes),
      readEvent: (origin, seq, rec) => this.readEvent(origin, seq, rec),
      refresh: (rooms) => this.refresh(rooms),
    });
  }

  /**
   * Every event that becomes visible here, from any writer, in apply order (a retried
   * post's copy is not). With `postsOf`, a post another writer stored is read only if
   * its room is cached or `postsOf(room)` (the rest are learned from their index records).
   */
  onApplied(fn: (e: ChatEvent) => void, postsOf?: (room: string) => boolean): void {
    this.listeners.onApplied(fn, postsOf);
  }

  /** What this writer just committed (a doorbell for the machine's other readers). */
  onCommitted(fn: (c: Commit) => void): void {
    this.listeners.onCommitted(fn);
  }

  /**
   * Every event read from or written to the files after the load, right after the
   * index took it, shown or not: a retried post's second copy still fills its
   * origin's slot, so replication must ship it too.
   */
  onEveryEvent(fn: (e: ChatEvent) => void): void {
    this.listeners.onEveryEvent(fn);
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
    const entered = Date.now();
    await this.files.init();
    // A replay after a reboot may have rewritten room bytes anywhere: then every room file is read.
    let replayed = await this.files.recover().catch((err: unknown) => {
      if (!isDiskFault(err)) throw err;
      this.log.warn('write-ahead log recovery left to the first commit (disk fault)', { error: errorMessage(err) });
      return true;
    });
    const started = Date.now();
    let report: Omit<LoadReport, 'from'> = { sweep: null, rooms: 0, scanned: 0 };
    let from = 'checkpoint';
    let lockWaitMs = 0;
    await this.files.withCheckpointLock(async () => {
      lockWaitMs = Date.now() - started;
      let checkpoint = readCheckpoint(this.files.machineDir);
      if (typeof checkpoint === 'string' && this.opts.buildElsewhere) {
        const why = checkpoint;
        await this.opts.buildElsewhere();
        checkpoint = readCheckpoint(this.files.machineDir);
        if (typeof checkpoint !== 'string') from = `checkpoint built by a one-shot process (${why})`;
        // That build read every room file after our replay: nothing it rewrote needs a sweep again.
        if (typeof checkpoint !== 'string') replayed = false;
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
    this.commits.nextSeq = this.index.topSeq(this.origin) + 1;
    this.lastLoad = { from, ...report };
    this.log.info('loaded room files', {
      from,
      scanned: report.scanned,
      sweep: report.sweep,
      roomFiles: report.rooms,
      ms: Date.now() - started,
      // Before it: the write-ahead log's recovery (under the room lock), and a sibling's load (the checkpoint lock).
      recoverMs: started - entered,
      lockWaitMs,
      rooms: this.index.rooms.size,
      follows: this.index.graph.size,
      nextSeq: this.commits.nextSeq,
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
      this.index.restore();
      this.files.restoreOffsets(new NameNumbers(this.index.names));
    } else {
      this.index.restore(checkpoint.index);
      this.clock.observe(checkpoint.clock);
      this.files.restoreOffsets(new NameNumbers(this.index.names, checkpoint.offsets));
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

  /** A doorbell: another writer of this machine committed (see DoorbellReader). */
  ring(ring: Ring): void {
    this.doorbells.ring(ring);
  }

  /** Reads what other writers appended to these rooms. */
  async refresh(rooms: string[]): Promise<void> {
    if (this.loading) {
      for (const room of rooms) this.deferred.add(room);
      return;
    }
    const slice = timeSlicer(); // a doorbell after a big replicated batch names thousands of rooms
    for (const room of rooms) {
      for (const s of await this.files.readNew(room)) this.record(s);
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
    if (this.commits.busy || this.loading || this.index.hasStoredPastHoles()) return false;
    if (this.walCovered === null || !this.files.walHolds(this.walCovered)) {
      // The log no longer reaches back to what we know we covered: pin its position now and read
      // every room file grown past our offsets (yielding), so the checkpoint can name a position.
      this.walCovered = await this.pinWal();
      await this.refresh(await this.files.roomsGrown());
      if (this.commits.busy || this.loading) return false;
    }
    const wrote = await this.files.withCheckpointLock(async () => {
      if (this.commits.busy) return false;
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
    keep: (r: IndexRecord, origin: string) => boolean,
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
          } else if (keep(rec, origin)) {
            found.push({ origin, seq, rec });
            if (++taken >= max) break;
          }
        }
      }
      scannedTo.set(origin, seq);
    }
    found.sort((a, b) => a.rec.wall - b.rec.wall || a.rec.logical - b.rec.logical || (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : a.seq - b.seq));
    const next = new Map(cursor);
    for (const [origin, seq] of scannedTo) advance(next, origin, seq);
    const taken = found.slice(0, max);
    // An origin with candidates left over resumes at its first one.
    for (const c of found.slice(max)) if (c.seq - 1 < (next.get(c.origin) ?? 0)) next.set(c.origin, c.seq - 1);
    const events: ChatEvent[] = [];
    for (const c of taken) {
      const e = this.readEvent(c.origin, c.seq, c.rec);
      if (e && confirm(e)) events.push(e);
    }
    const done = found.length <= max && [...upTo].every(([origin, top]) => covers(next, origin, top));
    return { events, cursor: next, done };
  }

  /** Whether an event counts here: made with its user's key, as far as this machine knows it (core/room-key.ts: counts). */
  counts(e: ChatEvent): boolean {
    return counts(e, (user) => this.index.keys.fingerprintOf(user));
  }

  /** The room's create events stored here so far (see RoomFiles.readCreates). */
  roomCreates(room: string): ChatEvent[] {
    return this.files.readCreates(room);
  }

  /** Stores an event durably; a draft whose id is already stored resolves to the stored event. */
  submit(draft: Draft): Promise<ChatEvent> {
    return this.commits.submit(draft);
  }

  /** Appends events stamped on other machines (see GroupCommit.appendStamped). */
  appendStamped(events: ChatEvent[]): Promise<AppendResult> {
    return this.commits.appendStamped(events);
  }

  /** The stored event a draft's id names, if any: a room's creation, or a post still in its room's tail. */
  private stored(d: Draft): ChatEvent | undefined {
    if (d.kind === 'create') {
      // A proved create is stored beside a room's creations without proof (from before names were settled by a majority).
      if (d.proof) return this.index.userExists(d.room) ? this.files.readCreates(d.room).find((e) => e.proof && e.text === d.text) : undefined;
      // A claim (a key for a room created before keys) is stored beside the keyless creation.
      const first = this.index.userExists(d.room) ? this.files.readFirst(d.room) : null;
      return first && (first.text !== '' || d.text === '') ? first : undefined;
    }
    if (d.kind === 'post') return this.tails.get(d.room).get(d.id);
    return undefined; // join and leave ids are made fresh for each request
  }

  /** Records events read from or written to the room files (see record), then flushes their origin-index records. */
  private recordAll(stored: Stored[]): void {
    for (const s of stored) this.record(s);
    this.origins.flush();
  }

  /** A stored event: its origin-index record written, then into the index (during a load in bulk; after it, admitted). */
  private record(stored: Stored): void {
    const { event: e, length } = stored;
    this.origins.write(e.origin, e.seq, indexRecordOf(stored));
    this.sinceCheckpoint++;
    if (this.loading) {
      if (this.index.absorb(e, length)) this.clock.observe(e.hlc);
      return;
    }
    this.admit(e, length);
  }

  /** An event (its line `bytes` long) offered to the index: what that applies is published, and every-event listeners hear it. */
  private admit(e: ChatEvent, bytes: number): void {
    this.publish(this.index.offer(e, bytes));
    this.listeners.every(e);
  }

  /** Events just applied: into the clock, the tails and the listeners. */
  private publish(applied: ChatEvent[]): void {
    for (const e of applied) {
      this.clock.observe(e.hlc);
      // A retried post's second copy fills its slot but is not shown again.
      const shown = e.kind !== 'post' || this.tails.take(e);
      if (!shown) continue;
      this.listeners.applied(e);
    }
  }

  /** Scans the given room files (default: all) past our offsets; returns the files looked at and the events read. */
  private async scan(rooms?: Iterable<string>): Promise<{ rooms: number; events: number }> {
    let events = 0;
    const slice = timeSlicer();
    const looked = await this.files.scanNew(async (stored) => {
      this.recordAll(stored);
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
