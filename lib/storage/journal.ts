/**
 * One writer's view of a machine's data: the event index kept in step with the
 * room files, and a group commit that batches every event submitted while the
 * previous batch was being written, so one lock and one fsync per file serve many
 * posts. Events get their origin, dense seq and clock reading at write time,
 * under the lock, after catching up with the files, so each sorts after
 * everything stored before it. Events stamped elsewhere (replication) are
 * appended unchanged, in the same group commits.
 */
import { closeSync, fdatasyncSync, openSync, readFileSync, writeSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { eventsToText, type ChatEvent, type EventKind } from '../core/event';
import { EventIndex } from '../core/event-index';
import { HybridClock } from '../core/hlc';
import { parseRoomLog } from '../core/room-log';
import { errorMessage, type Logger } from '../common/log';
import { CommitError, type RoomFiles } from './room-files';

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

export class StorageError extends Error {}

export class Journal {
  readonly index = new EventIndex();
  private readonly waiting = new Map<string, Waiting[]>();
  private queue: Draft[] = [];
  private incoming: Incoming[] = [];
  private flushing = false;
  private nextSeq = 1;
  private readonly appliedListeners: ((e: ChatEvent) => void)[] = [];
  private readonly committedListeners: ((rooms: string[]) => void)[] = [];
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
  ) {}

  /** Every event that becomes visible here, from any writer, in apply order. */
  onApplied(fn: (e: ChatEvent) => void): void {
    this.appliedListeners.push(fn);
  }

  /** Rooms this writer just appended to (a doorbell for the machine's other readers). */
  onCommitted(fn: (rooms: string[]) => void): void {
    this.committedListeners.push(fn);
  }

  /**
   * Every event read from or written to the files, right after the index took it,
   * shown or not: a retried post's second copy still fills its origin's slot, so
   * replication must ship it too.
   */
  onEveryEvent(fn: (e: ChatEvent) => void): void {
    this.everyListeners.push(fn);
  }

  async load(): Promise<void> {
    await this.files.init();
    await this.completeInterrupted();
    const events = await this.files.loadAll();
    for (const e of events) this.take(e);
    const { gaps } = this.index.settle();
    for (const gap of gaps) this.log.warn('sequence gap in stored events (lost line?)', gap);
    this.nextSeq = this.index.seqOf(this.origin) + 1;
    this.log.info('loaded room files', { events: events.length, rooms: this.index.roomNames().length, nextSeq: this.nextSeq });
  }

  /** Reads what other writers appended to these rooms. */
  async refresh(rooms: string[]): Promise<void> {
    for (const room of rooms) for (const e of await this.files.readNew(room)) this.take(e);
  }

  /** Stores an event durably; a draft whose id is already stored resolves to the stored event. */
  submit(draft: Draft): Promise<ChatEvent> {
    const known = this.index.get(draft.id);
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
    this.nextSeq = (written.length > 0 ? written[written.length - 1].seq : this.index.seqOf(this.origin)) + 1;
    for (const e of written) this.take(e);
    this.notifyCommitted(written);
    for (const d of batch) {
      const stored = this.index.get(d.id);
      for (const w of this.waiting.get(d.id) ?? []) {
        if (stored) w.resolve(stored);
        else w.reject(failure ?? new StorageError('event was not stored'));
      }
      this.waiting.delete(d.id);
    }
  }

  /**
   * One commit of `rooms` under the machine lock, taking in what other writers appended
   * first. A commit that failed part-way (a full disk) returns what was written and why
   * the rest was not; anything else is fatal.
   */
  private async commitRooms(
    what: string,
    rooms: string[],
    batchSize: number,
    prepare: (room: string) => ChatEvent[],
  ): Promise<{ written: ChatEvent[]; failure: Error | null }> {
    try {
      return { written: await this.files.commit(rooms, (fresh) => fresh.forEach((e) => this.take(e)), prepare), failure: null };
    } catch (err) {
      if (!(err instanceof CommitError)) this.fatal(err as Error);
      const { written, cause } = err as CommitError;
      const failure = new StorageError(`storage unavailable: ${errorMessage(cause)}`);
      this.log.error(`${what} failed`, { error: failure.message, written: written.length, batch: batchSize });
      return { written, failure };
    }
  }

  private async commitIncoming(calls: Incoming[]): Promise<void> {
    const next = new Map<string, number>();
    const accepted: ChatEvent[] = [];
    const mine = calls.map(({ events }) => {
      const taken: ChatEvent[] = [];
      let gapped = 0;
      for (const e of events) {
        const n = next.get(e.origin) ?? this.index.seqOf(e.origin) + 1;
        if (e.seq < n) continue;
        if (e.seq > n) gapped++;
        else {
          next.set(e.origin, n + 1);
          taken.push(e);
        }
      }
      accepted.push(...taken);
      return { taken, gapped };
    });
    let written: ChatEvent[] = [];
    let failure: Error | null = null;
    if (accepted.length > 0) {
      const byRoom = groupByRoom(accepted);
      let intentWritten = false;
      ({ written, failure } = await this.commitRooms('replicated append', [...byRoom.keys()], accepted.length, (room) => {
        if (!intentWritten) {
          this.writeIntent(accepted);
          intentWritten = true;
        }
        // Skip what another process appended meanwhile (e.g. a loader completing an interrupted commit).
        return (byRoom.get(room) ?? []).filter((e) => this.index.seqOf(e.origin) < e.seq);
      }));
      if (!failure) await fs.truncate(this.intentPath).catch(() => undefined);
      for (const e of written) this.take(e);
      this.notifyCommitted(written);
    }
    const stored = new Set(written);
    calls.forEach((c, i) => {
      if (failure) c.reject(failure);
      else c.resolve({ appended: mine[i].taken.filter((e) => stored.has(e)).length, gapped: mine[i].gapped });
    });
  }

  /**
   * Room files are written one after another, so a crash inside a replicated
   * commit could leave a later seq of an origin on disk without an earlier one.
   * The batch is therefore first recorded here (under the lock, fsynced); a
   * loader finishes whatever of it is missing before reading the files.
   */
  private get intentPath(): string {
    return join(this.files.machineDir, 'incoming.jsonl');
  }

  private writeIntent(events: ChatEvent[]): void {
    try {
      const fd = openSync(this.intentPath, 'w');
      try {
        writeSync(fd, eventsToText(events));
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw new CommitError([], err); // nothing written yet: refuse the batch, keep running
    }
  }

  private readIntent(): string {
    return readFileOr(this.intentPath).toString('utf8');
  }

  /** Appends what an interrupted replicated commit left out, under the lock, before loading. */
  private async completeInterrupted(): Promise<void> {
    for (;;) {
      const text = this.readIntent();
      const intent = parseRoomLog(Buffer.from(text)).events;
      if (intent.length === 0) return;
      const byRoom = groupByRoom(intent);
      let changed: boolean | null = null;
      const written = await this.files.commit(
        [...byRoom.keys()],
        () => undefined, // the load reads everything next
        (room) => {
          changed ??= this.readIntent() !== text; // a live replicator moved on meanwhile: look again
          if (changed) return [];
          // The whole file, not just what is new to us: a doorbell may have had us read part of it already.
          const slot = (e: ChatEvent): string => `${e.origin}#${e.seq}`;
          const present = new Set(parseRoomLog(readFileOr(this.files.fileOf(room))).events.map(slot));
          return (byRoom.get(room) ?? []).filter((e) => !present.has(slot(e)));
        },
      );
      if (changed) continue;
      if (written.length > 0) this.log.warn('completed an interrupted replicated commit', { events: written.length });
      this.notifyCommitted(written);
      return;
    }
  }

  private notifyCommitted(written: ChatEvent[]): void {
    if (written.length === 0) return;
    const rooms = [...new Set(written.map((e) => e.room))];
    for (const fn of this.committedListeners) fn(rooms);
  }

  /** Gives drafts that are not yet stored their origin, seq and timestamp. */
  private stamp(drafts: Draft[]): ChatEvent[] {
    // A refilled data dir may hold this slot's events from before it was lost: carry on after them.
    this.nextSeq = Math.max(this.nextSeq, this.index.seqOf(this.origin) + 1);
    const out: ChatEvent[] = [];
    for (const d of drafts) {
      if (this.index.has(d.id)) continue; // stored by another writer meanwhile
      out.push({ ...d, origin: this.origin, seq: this.nextSeq++, hlc: this.clock.now() });
    }
    return out;
  }

  private take(e: ChatEvent): void {
    for (const applied of this.index.offer(e)) {
      this.clock.observe(applied.hlc);
      for (const fn of this.appliedListeners) fn(applied);
    }
    for (const fn of this.everyListeners) fn(e);
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

/** A file's bytes, or none if it does not exist. */
function readFileOr(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw err;
  }
}
