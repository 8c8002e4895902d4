/**
 * What a starting primary does for the Takeover before it is in charge: it watches and
 * fences the recorded primary (recorded-primary.ts), binds the admin port
 * (primary-admin.ts), takes the lock and record (primary-charge.ts) and keeps the
 * machine's guardians, and runs the machine once in charge. Each action returns its
 * outcome: the Takeover's next input, if any.
 */
import { mkdirSync } from 'node:fs';
import { EXIT_STEPPED_DOWN } from '../common/exit-codes';
import type { RecordView, TakeoverAction, TakeoverInput } from '../control/takeover';
import { machineDirOf } from '../storage/data-dir';
import { RestartLedger } from '../storage/restart-ledger';
import { keepGuardians } from './guardian-keeper';
import { AdminPort, type PrimaryState } from './primary-admin';
import { PrimaryCharge } from './primary-charge';
import { runInCharge } from './primary-in-charge';
import type { PrimaryProcessOptions } from './primary-process';
import { RecordedPrimary } from './recorded-primary';
import { childSpecs } from '../control/child-supervisor';
import { WarmChildren } from '../server/warm-children';

export type Outcome = TakeoverInput | null | void;

/** The actions that end a start: the process resolves with them (inCharge, stopped). */
type LifecycleAction = Extract<TakeoverAction, { inCharge: unknown } | { stopped: unknown }>;

export class TakeoverIo {
  private readonly self: PrimaryState;
  /**
   * The slots' restart counts, read once the last primary is gone (our first use is after
   * we bind its admin port): a start that stood by while that primary counted deaths
   * carries them on.
   */
  private ledgerRead: RestartLedger | null = null;
  readonly recorded: RecordedPrimary;
  private readonly charge: PrimaryCharge;
  private readonly admin: AdminPort;

  /** Standing by: our workers, forked ahead. */
  private warm: WarmChildren | undefined;

  /** `heard`: an outcome that comes later (the lock lost, the link to the running primary broken). */
  constructor(private readonly opts: PrimaryProcessOptions, private readonly heard: (input: TakeoverInput) => void) {
    const { config, machine, log, fbsCommand } = opts;
    const machineDir = machineDirOf(config.dataDir, machine);
    mkdirSync(machineDir, { recursive: true });
    this.recorded = new RecordedPrimary(config, machine, machineDir, log, heard);
    this.charge = new PrimaryCharge(machineDir, config.storage.lockStaleMs);
    this.self = {
      config, machine, machineDir, term: 0, restarts: 0, primary: null, guardians: undefined,
      keeper: () => (this.self.guardians ??= keepGuardians({ config, machine, term: this.self.term, log, fbsCommand, restarts: this.ledger })),
    };
    this.admin = new AdminPort(this.self, log);
  }

  private get ledger(): RestartLedger {
    return (this.ledgerRead ??= new RestartLedger(this.self.machineDir));
  }

  perform(a: Exclude<TakeoverAction, LifecycleAction>): Outcome | Promise<Outcome> {
    const { log } = this.opts;
    if ('probe' in a) return this.recorded.probe(a.probe);
    if ('fence' in a) return this.recorded.fence(a.fence.pid, a.fence.silentMs);
    if ('bind' in a) {
      this.recorded.forget();
      return this.admin.bind();
    }
    if ('keepGuardians' in a) {
      this.self.term = a.keepGuardians.term;
      return void this.self.keeper();
    }
    if ('takeCharge' in a) {
      this.self.restarts = a.takeCharge.restarts;
      return this.charge.take(a.takeCharge, (detail) => this.heard({ kind: 'lockCompromised', detail }));
    }
    if ('waitForSpace' in a) return log.error('cannot start: the data dir refuses writes; waiting for space', { error: a.waitForSpace.detail });
    if ('standBy' in a) {
      log.info('standing by: a primary is running', { reason: a.standBy.reason });
      return this.recorded.forget();
    }
    if ('ask' in a) return this.recorded.ask(a.ask.timeoutMs);
    if ('warmUp' in a) return void (this.warm = new WarmChildren(this.opts.machine, childSpecs(this.opts.config.workers).filter((c) => c.role === 'worker'), log));
    log.error('stepping down', { reason: a.stepDown.reason, term: this.self.term });
    process.exit(EXIT_STEPPED_DOWN);
  }

  /** Runs the machine; its stop lets go of the lock and the admin port last. */
  inCharge({ previousPid, died }: { previousPid: number | null; died: boolean }, recordChanged: (record: RecordView | null) => void): Promise<{ stop(): Promise<void> }> {
    const last = (): Promise<void> => this.charge.letGo().then(() => this.admin.close());
    const { log, fbsCommand } = this.opts;
    return runInCharge(this.self, { log, ledger: this.ledger, previousPid, died, recordChanged, last, fbsCommand, warm: this.warm });
  }

  /** The machine was stopped cleanly while we started: it stays stopped. */
  async stopped(): Promise<null> {
    this.recorded.forget();
    this.warm?.stop();
    await this.self.guardians?.stop();
    this.admin.close();
    return null;
  }
}
