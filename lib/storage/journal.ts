/**
 * One writer's view of a machine's data: the event index kept in step with the
 * room files, and a group commit that batches every event submitted while the
 * previous batch was being written, so one lock and one fsync per file serve many
 * posts. Events get their origin, dense seq and clock reading at write time,
 * under the lock, after catching up with the files, so each sorts after
 * everything stored before it.
 */
import type { ChatEvent, EventKind } from '../core/event';
import { EventIndex } from '../core/event-index';
import { HybridClock } from '../core/hlc';
import type { Logger } from '../common/log';
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

export class StorageError extends Error {}

export class Journal {
  readonly index = new EventIndex();
  private readonly waiting = new Map<string, Waiting[]>();
  private queue: Draft[] = [];
  private flushing = false;
  private nextSeq = 1;
  private readonly appliedListeners: ((e: ChatEvent) => void)[] = [];
  private readonly committedListeners: ((rooms: string[]) => void)[] = [];

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

  async load(): Promise<void> {
    await this.files.init();
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

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      await this.commitBatch(batch);
    }
    this.flushing = false;
  }

  private async commitBatch(batch: Draft[]): Promise<void> {
    const byRoom = new Map<string, Draft[]>();
    for (const d of batch) {
      const list = byRoom.get(d.room);
      if (list) list.push(d);
      else byRoom.set(d.room, [d]);
    }
    let written: ChatEvent[] = [];
    let failure: Error | null = null;
    try {
      written = await this.files.commit(
        [...byRoom.keys()],
        (fresh) => fresh.forEach((e) => this.take(e)),
        (room) => this.stamp(byRoom.get(room) ?? []),
      );
    } catch (err) {
      if (!(err instanceof CommitError)) this.fatal(err as Error);
      const ce = err as CommitError;
      written = ce.written;
      failure = new StorageError(`storage unavailable: ${(ce.cause as Error)?.message ?? ce.cause}`);
      this.log.error('group commit failed', { error: failure.message, written: written.length, batch: batch.length });
    }
    // Seqs handed out but never written go back, so our origin stays gap-free.
    this.nextSeq = (written.length > 0 ? written[written.length - 1].seq : this.index.seqOf(this.origin)) + 1;
    for (const e of written) this.take(e);
    if (written.length > 0) {
      const rooms = [...new Set(written.map((e) => e.room))];
      for (const fn of this.committedListeners) fn(rooms);
    }
    for (const d of batch) {
      const stored = this.index.get(d.id);
      for (const w of this.waiting.get(d.id) ?? []) {
        if (stored) w.resolve(stored);
        else w.reject(failure ?? new StorageError('event was not stored'));
      }
      this.waiting.delete(d.id);
    }
  }

  /** Gives drafts that are not yet stored their origin, seq and timestamp. */
  private stamp(drafts: Draft[]): ChatEvent[] {
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
  }
}
