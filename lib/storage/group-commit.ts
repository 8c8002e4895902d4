/**
 * A writer's group commit: every event submitted while the previous batch is being
 * written joins the next batch, and a batch after an idle spell waits one turn of the
 * event loop for the posts already read off the sockets, so one lock and one fsync
 * (of the machine's write-ahead log) serve many posts. Drafts get their origin, dense seq and clock
 * reading at write time, under the lock, after catching up with the files, so each
 * sorts after everything stored before it. Events stamped elsewhere (replication)
 * are appended unchanged, in the same commits, as far as admitReplicated allows.
 */
import type { ChatEvent, EventKind } from '../core/event';
import type { EventIndex } from '../core/event-index';
import type { HybridClock } from '../core/hlc';
import { admitReplicated } from '../core/replicated-admission';
import type { WalPosition } from '../core/wal-position';
import { errorMessage, type Logger } from '../common/log';
import { metrics } from '../common/metrics';
import { commitNews, planCommit, type Stored } from '../core/commit-plan';
import { CommitError, type CommitWriter } from './commit-writer';
import type { RoomOffsets } from './room-offsets';
import type { StoredDrafts } from './stored-drafts';
import type { EventPublisher } from './event-publisher';

export interface Draft {
  id: string;
  kind: EventKind;
  room: string;
  author: string;
  text: string;
  /** The fingerprint of the key that makes it. */
  key?: string;
  /** A create's proof that a majority settled its name. */
  proof?: string;
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

/** A commit refused for a disk fault: the client gets UNAVAILABLE, and the writes resume once there is room. */
export class StorageError extends Error {}

/** What the commit writes through, and where what it stores goes. */
export interface CommitParts {
  /** The write and sync steps, under the room lock. */
  readonly writer: CommitWriter;
  /** Where each room file ends, as this process has read it. */
  readonly offsets: RoomOffsets;
  readonly origin: string;
  readonly clock: HybridClock;
  readonly log: Logger;
  /** The writer's index. */
  readonly index: EventIndex;
  /** The stored event a draft's id names, if any. */
  readonly drafts: StoredDrafts;
  /** Takes what a commit read and wrote into the index, and tells the listeners. */
  readonly publisher: EventPublisher;
  /** The files and memory may disagree: the process must restart. */
  fatal(err: Error): never;
}

interface Waiting {
  draft: Draft;
  resolve: (e: ChatEvent) => void;
  reject: (err: Error) => void;
}

interface Incoming {
  events: ChatEvent[];
  /** Lines a peer shipped for some of `events`, appended as they came (see planCommit). */
  shipped?: ReadonlyMap<ChatEvent, Buffer>;
  resolve: (r: AppendResult) => void;
  reject: (err: Error) => void;
}

export class GroupCommit {
  /** The seq the next stamped draft gets (at least the origin's top seq in the index plus one: see stamp). */
  private nextSeq = 1;
  private readonly waiting = new Map<string, Waiting[]>();
  private queue: Draft[] = [];
  private incoming: Incoming[] = [];
  private flushing = false;

  constructor(private readonly w: CommitParts) {}

  /** A commit is in flight (its lines may be past the offsets but not yet in the index). */
  get busy(): boolean {
    return this.flushing;
  }

  /** Stores an event durably; a draft whose id is already stored resolves to the stored event. */
  submit(draft: Draft): Promise<ChatEvent> {
    const known = this.w.drafts.find(draft);
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
   * `shipped`: the stored lines a peer sent for some of them (checked to read back as
   * exactly those events), written as they came.
   */
  appendStamped(events: ChatEvent[], shipped?: ReadonlyMap<ChatEvent, Buffer>): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.incoming.push({ events, shipped, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    // Posts already read off the sockets join this batch: a commit costs about the same whatever it holds.
    await new Promise<void>((resolve) => setImmediate(resolve));
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
    const { written, record, failure } = await this.commitRooms('group commit', [...byRoom.keys()], batch.length, (room) =>
      this.stamp(byRoom.get(room) ?? []),
    );
    // Seqs handed out but never written go back, so our origin stays gap-free.
    this.nextSeq = (written.length > 0 ? written[written.length - 1].event.seq : this.w.index.seqs.topSeq(this.w.origin)) + 1;
    this.w.publisher.publishStored(written);
    this.notifyCommitted(written, record);
    const byId = new Map(written.map((s) => [s.event.id, s.event]));
    for (const d of batch) {
      const stored = byId.get(d.id) ?? this.w.drafts.find(d);
      for (const w of this.waiting.get(d.id) ?? []) {
        if (stored) w.resolve(stored);
        else w.reject(failure ?? new StorageError('event was not stored'));
      }
      this.waiting.delete(d.id);
    }
  }

  /**
   * One commit of `rooms` under the machine lock: what other writers appended first
   * (into the index: the seqs and clock readings to follow), then the plan of what
   * `eventsOf` adds to each room, written. A commit refused for a disk fault returns
   * why (the writes resume by themselves once there is room); anything else is fatal.
   */
  private async commitRooms(
    what: string,
    rooms: string[],
    batchSize: number,
    eventsOf: (room: string) => ChatEvent[],
    shipped?: ReadonlyMap<ChatEvent, Buffer>,
  ): Promise<{ written: Stored[]; record: WalPosition | null; failure: Error | null }> {
    const { writer, offsets } = this.w;
    try {
      const { stored, record } = await writer.commit(rooms, async () => {
        this.w.publisher.publishStored(await writer.catchUp(rooms));
        return writer.write(planCommit(rooms.map((room) => ({ room, end: offsets.of(room), events: eventsOf(room) })), shipped));
      });
      return { written: stored, record, failure: null };
    } catch (err) {
      if (!(err instanceof CommitError)) this.w.fatal(err as Error);
      const failure = new StorageError(`storage unavailable: ${errorMessage((err as CommitError).cause)}`);
      this.w.log.error(`${what} failed`, { error: failure.message, batch: batchSize });
      return { written: [], record: null, failure };
    }
  }

  private async commitIncoming(calls: Incoming[]): Promise<void> {
    const index = this.w.index;
    const admitted = admitReplicated(calls.map((c) => c.events), index.seqs);
    const accepted = admitted.flatMap((a) => a.taken);
    let written: Stored[] = [];
    let record: WalPosition | null = null;
    let failure: Error | null = null;
    if (accepted.length > 0) {
      const byRoom = groupByRoom(accepted);
      ({ written, record, failure } = await this.commitRooms('replicated append', [...byRoom.keys()], accepted.length, (room) =>
        // Skip what another writer appended meanwhile (e.g. one finishing a commit whose writer died).
        (byRoom.get(room) ?? []).filter((e) => !this.w.index.seqs.has(e.origin, e.seq)),
        shippedOf(calls),
      ));
      this.w.publisher.publishStored(written);
      this.notifyCommitted(written, record);
    }
    const stored = new Set(written.map((s) => s.event));
    calls.forEach((c, i) => {
      if (failure) c.reject(failure);
      else c.resolve({ appended: admitted[i].taken.filter((e) => stored.has(e)).length, gapped: admitted[i].gapped });
    });
  }

  private notifyCommitted(written: Stored[], record: WalPosition | null): void {
    if (written.length === 0) return;
    metrics.commitBatch.observe(written.length);
    this.w.publisher.committed({ ...commitNews(written), record: record ?? undefined });
  }

  /** Gives drafts that are not yet stored their origin, seq and timestamp. */
  private stamp(drafts: Draft[]): ChatEvent[] {
    // A refilled data dir may hold this slot's events from before it was lost: carry on after them.
    this.nextSeq = Math.max(this.nextSeq, this.w.index.seqs.topSeq(this.w.origin) + 1);
    const out: ChatEvent[] = [];
    for (const d of drafts) {
      if (this.w.drafts.find(d)) continue; // stored by another writer meanwhile
      out.push({ ...d, origin: this.w.origin, seq: this.nextSeq++, hlc: this.w.clock.now() });
    }
    return out;
  }
}

/** The calls' shipped lines as one map (most catch-up commits hold one call's). */
function shippedOf(calls: Incoming[]): ReadonlyMap<ChatEvent, Buffer> | undefined {
  const maps = calls.flatMap((c) => (c.shipped && c.shipped.size > 0 ? [c.shipped] : []));
  if (maps.length <= 1) return maps[0];
  return new Map(maps.flatMap((m) => [...m]));
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
