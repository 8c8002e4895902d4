/**
 * A writer's start: the machine's checkpoint, then only the rooms the write-ahead
 * log names after the checkpoint's log position (every room file if the log cannot
 * tell), taken into the index in bulk. One process at a time (the checkpoint lock).
 */
import { EventIndex } from '../core/event-index';
import { indexFromSnapshot } from '../core/index-snapshot';
import type { HybridClock } from '../core/hlc';
import { isDiskFault } from '../core/disk-fault';
import type { Checkpoint } from '../core/checkpoint-format';
import type { WalPosition } from '../core/wal-position';
import { NameNumbers } from '../core/name-numbers';
import { errorMessage, type Logger } from '../common/log';
import { timeSlicer } from '../common/time-slice';
import { readCheckpoint } from './checkpoint-file';
import type { RoomFiles } from './room-files';
import type { EventPublisher } from './event-publisher';
import type { Checkpointer } from './checkpointer';

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

type ScanReport = Omit<LoadReport, 'from'>;

export class StateLoader {
  constructor(
    private readonly files: RoomFiles,
    private readonly index: EventIndex,
    private readonly clock: HybridClock,
    private readonly publisher: EventPublisher,
    private readonly checkpoints: Checkpointer,
    private readonly log: Logger,
    /** The writer's origin, and see JournalOptions. */
    private readonly opts: { origin: string; checkpointEvery: number; buildElsewhere?: () => Promise<void> },
  ) {}

  /** See Journal.load; returns what it read, and logs it with the times it waited. */
  async load(): Promise<LoadReport> {
    const entered = Date.now();
    await this.files.init();
    // A replay after a reboot may have rewritten room bytes anywhere: then every room file is read.
    const replayed = await this.files.recover().catch((err: unknown) => {
      if (!isDiskFault(err)) throw err;
      this.log.warn('write-ahead log recovery left to the first commit (disk fault)', { error: errorMessage(err) });
      return true;
    });
    const started = Date.now();
    let lockWaitMs = 0;
    const report = await this.files.checkpointLock.run(async () => {
      lockWaitMs = Date.now() - started;
      return this.loadLocked(replayed);
    });
    this.publisher.loaded();
    const { from, sweep, rooms, scanned } = report;
    this.log.info('loaded room files', {
      from,
      scanned,
      sweep,
      roomFiles: rooms,
      ms: Date.now() - started,
      // Before it: the write-ahead log's recovery (under the room lock), and a sibling's load (the checkpoint lock).
      recoverMs: started - entered,
      lockWaitMs,
      rooms: this.index.rooms.size,
      follows: this.index.graph.size,
      nextSeq: this.index.seqs.topSeq(this.opts.origin) + 1,
    });
    return report;
  }

  /** The load under the checkpoint lock: the checkpoint (built elsewhere first if there is none), the scan past it, and a new checkpoint if that scan was long. */
  private async loadLocked(replayed: boolean): Promise<LoadReport> {
    let from = 'checkpoint';
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
    const report = await this.restoreAndScan(checkpoint, replayed);
    // A load that had to read every room file writes one the next can use (e.g. after an upgrade, whose checkpoint names no log position).
    const stale = typeof checkpoint === 'string' || report.sweep !== null || report.scanned >= this.opts.checkpointEvery;
    if (stale && !this.index.seqs.hasStoredPastHoles()) {
      // Derived data: without it the next start scans more, so a full disk only defers it.
      await this.checkpoints.write().catch((err: unknown) => {
        if (!isDiskFault(err)) throw err;
        this.log.warn('checkpoint not written (disk fault)', { error: errorMessage(err) });
      });
    }
    return { from, ...report };
  }

  /** See Journal.build. */
  async build(): Promise<void> {
    await this.files.init();
    const started = Date.now();
    const { scanned } = await this.restoreAndScan('building', true);
    // A hole waiting for a peer is not written down: the loaders must scan and hold it open themselves.
    if (this.index.seqs.hasStoredPastHoles()) return this.log.warn('no checkpoint built: a seq is missing until a peer sends it', { scanned });
    await this.checkpoints.write();
    this.log.info('built checkpoint', { scanned, ms: Date.now() - started, rooms: this.index.rooms.size, follows: this.index.graph.size });
  }

  /**
   * Starts from the checkpoint (or from nothing) and takes what the room files hold
   * past it: the rooms the write-ahead log names after the checkpoint's position, or
   * every room file if the log cannot tell (`replayed`: a reboot's replay may have
   * rewritten any of them).
   */
  private async restoreAndScan(checkpoint: Checkpoint | string, replayed: boolean): Promise<ScanReport> {
    let walFrom: WalPosition | null = null;
    let sweep: string | null = 'no checkpoint';
    if (typeof checkpoint === 'string') {
      this.index.restore(new EventIndex(this.index.proved));
      this.files.offsets.restore(new NameNumbers(this.index.names));
    } else {
      this.index.restore(indexFromSnapshot(checkpoint.index, this.index.proved));
      this.clock.observe(checkpoint.clock);
      this.files.offsets.restore(new NameNumbers(this.index.names, checkpoint.offsets));
      walFrom = replayed ? null : checkpoint.wal;
      sweep = replayed ? 'the write-ahead log was replayed' : walFrom === null ? 'the checkpoint names no log position' : null;
    }
    // The rooms to read: those the log names past the checkpoint, or (undefined) every room file.
    const plan = (): Set<string> | undefined => {
      if (walFrom === null) return undefined;
      const named = this.files.wal.reader.roomsSince(walFrom);
      if (typeof named !== 'string') return named;
      [sweep, walFrom] = [named, null];
      return undefined;
    };
    let rooms = plan();
    // A sweep covers the log up to a position pinned before it: every record before that is in the files it reads.
    this.checkpoints.cover(walFrom ?? (await this.checkpoints.pinWal()));
    this.index.beginBulk();
    let { rooms: looked, events: scanned } = await this.scan(rooms);
    if (this.index.endBulk().length > 0 || this.index.seqs.heldBack() > 0) {
      // Gaps: a writer may have appended while we scanned without the lock. Look
      // again holding it, at the log as it is now (no commit is in flight); what is
      // still missing then (a corrupt line, moved to quarantine now) is held open,
      // so the replicator's next pull fetches it from a peer.
      scanned += await this.files.withLock(async () => {
        if (rooms !== undefined && (rooms = plan()) === undefined) this.checkpoints.cover(null); // the log moved on meanwhile
        const again = await this.scan(rooms);
        looked += again.rooms;
        this.files.quarantine.moveSuspects();
        return again.events;
      });
      this.index.endBulk(true);
      for (const gap of this.index.seqs.holes()) this.log.warn('sequence gap in stored events; waiting for a peer to send it', gap);
    }
    return { sweep, rooms: looked, scanned };
  }

  /** Scans the given room files (default: all) past our offsets; returns the files looked at and the events read. */
  private async scan(rooms?: Iterable<string>): Promise<{ rooms: number; events: number }> {
    const list = rooms === undefined ? await this.files.reader.roomsOnDisk() : [...rooms];
    let events = 0;
    const slice = timeSlicer();
    for (const chunk of this.files.reader.scanPast(list)) {
      this.publisher.publishStored(chunk);
      events += chunk.length;
      await slice();
    }
    return { rooms: list.length, events };
  }
}
