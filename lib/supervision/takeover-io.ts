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

export type Outcome = TakeoverInput | null | void;

/** The actions that end a start: the process resolves with them (inCharge, stopped). */
type LifecycleAction = Extract<TakeoverAction, { inCharge: unknown } | { stopped: unknown }>;

export class TakeoverIo {
  private readonly self: PrimaryState;
  private readonly ledger: RestartLedger;
  readonly recorded: RecordedPrimary;
  private readonly charge: PrimaryCharge;
  private readonly admin: AdminPort;

  constructor(private readonly opts: PrimaryProcessOptions, private readonly lockCompromised: (detail: string) => void) {
    const { config, machine, log, fbsCommand } = opts;
    const machineDir = machineDirOf(config.dataDir, machine);
    mkdirSync(machineDir, { recursive: true });
    const restarts = (this.ledger = new RestartLedger(machineDir));
    this.recorded = new RecordedPrimary(config, machine, machineDir, log);
    this.charge = new PrimaryCharge(machineDir, config.storage.lockStaleMs);
    this.self = {
      config, machine, machineDir, term: 0, restarts: 0, primary: null, guardians: undefined,
      keeper: () => (this.self.guardians ??= keepGuardians({ config, machine, term: this.self.term, log, fbsCommand, restarts })),
    };
    this.admin = new AdminPort(this.self, log);
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
      return this.charge.take(a.takeCharge, this.lockCompromised);
    }
    if ('waitForSpace' in a) return log.error('cannot start: the data dir refuses writes; waiting for space', { error: a.waitForSpace.detail });
    if ('standBy' in a) {
      log.info('standing by: a primary is running', { reason: a.standBy.reason });
      return this.recorded.forget();
    }
    if ('ask' in a) return this.recorded.ask(a.ask.timeoutMs);
    log.error('stepping down', { reason: a.stepDown.reason, term: this.self.term });
    process.exit(EXIT_STEPPED_DOWN);
  }

  /** Runs the machine; its stop lets go of the lock and the admin port last. */
  inCharge({ previousPid, died }: { previousPid: number | null; died: boolean }, recordChanged: (record: RecordView | null) => void): Promise<{ stop(): Promise<void> }> {
    const last = (): Promise<void> => this.charge.letGo().then(() => this.admin.close());
    return runInCharge(this.self, { log: this.opts.log, ledger: this.ledger, previousPid, died, recordChanged, last });
  }

  /** The machine was stopped cleanly while we started: it stays stopped. */
  async stopped(): Promise<null> {
    await this.self.guardians?.stop();
    this.admin.close();
    return null;
  }
}
