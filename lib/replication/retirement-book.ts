/**
 * The replicator's retirements (core/retirements): those it read from the machine's
 * file, those its peers send, and the one it declares for its own machine once it
 * has caught up with every peer. Each new one is written to the file (the machine's
 * workers read it) and offered to the peers pulling from us.
 */
import { errorMessage, type Logger } from '../common/log';
import type { EventIndex } from '../core/event-index';
import { retirementError, type Retirement, type Retirements } from '../core/retirements';
import { readRetirements, writeRetirements } from '../storage/retired-file';

export class RetirementBook {
  readonly table: Retirements;
  /** Grows with every retirement learned: a Pull stream sends the table again when it moved. */
  version = 0;
  private readonly listeners = new Set<() => void>();
  private writing: Promise<void> = Promise.resolve();
  /** Refusals already logged: a peer sends its whole table with every stream. */
  private readonly refused = new Set<string>();

  constructor(
    private readonly machineDir: string,
    private readonly machines: ReadonlySet<string>,
    private readonly log: Logger,
  ) {
    this.table = readRetirements(machineDir, machines, log);
  }

  /** Calls `fn` whenever a retirement is learned; returns the unsubscribe. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Takes a peer's retirements; those it cannot take are left out, said in one line per batch (once per first reason). */
  merge(list: unknown[], peer: string): void {
    let fresh = 0;
    const refused: string[] = [];
    for (const r of list) {
      const bad = retirementError(r, this.machines) ?? this.table.refusal(r as Retirement);
      if (bad) refused.push(bad);
      else if (this.table.add(r as Retirement)) fresh++;
    }
    if (fresh > 0) this.changed();
    if (refused.length > 0 && !this.refused.has(refused[0])) {
      if (this.refused.size >= 10_000) this.refused.clear();
      this.refused.add(refused[0]);
      this.log.warn('refused a retirement from peer', { peer, reason: refused[0], refused: refused.length });
    }
  }

  /** Declares this machine's older origins retired if any wait (the caller has caught up with every peer). */
  declare(machine: string, incarnation: string, index: EventIndex): void {
    const r = this.table.declare(machine, incarnation, index.seqs.vector(), (origin) => index.seqs.topSeq(origin) === index.seqs.seqOf(origin));
    if (!r || !this.table.add(r)) return;
    this.log.info('retired older origins of this machine', { by: r.by, origins: Object.keys(r.origins).length });
    this.changed();
  }

  private changed(): void {
    this.version++;
    const table = this.table;
    // One write at a time, each of the whole table as it is then.
    this.writing = this.writing.then(() => writeRetirements(this.machineDir, table)).catch((err: unknown) => {
      this.log.error('cannot write the retired origins file', { error: errorMessage(err) });
    });
    for (const fn of this.listeners) fn();
  }
}
