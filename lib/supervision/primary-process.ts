/**
 * A machine's primary process in its cluster role: the master on the master machine, a
 * supervisor elsewhere. When it takes charge, stands by, fences a stale primary or steps
 * down is the Takeover's call (lib/control/takeover.ts); this shell performs its actions
 * and feeds their outcomes back: the recorded primary (recorded-primary.ts), the admin
 * port (primary-admin.ts), the lock and record (primary-charge.ts), the machine in charge
 * (primary-in-charge.ts).
 */
import { mkdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { ClusterConfig } from '../common/config';
import { EXIT_STEPPED_DOWN } from '../common/exit-codes';
import type { Logger } from '../common/log';
import { revivalTermOf, Takeover, type RecordView, type TakeoverAction, type TakeoverInput } from '../control/takeover';
import { timingPolicy } from '../control/timing-policy';
import { machineDirOf } from '../storage/data-dir';
import { RestartLedger } from '../storage/restart-ledger';
import { keepGuardians } from './guardian-keeper';
import { AdminPort, type PrimaryState } from './primary-admin';
import { PrimaryCharge } from './primary-charge';
import { runInCharge } from './primary-in-charge';
import { RecordedPrimary } from './recorded-primary';
import { keepsStandby } from './roles';
import { childSpecs } from '../control/child-supervisor';
import { WarmChildren } from '../server/warm-children';

export interface PrimaryProcessOptions {
  config: ClusterConfig;
  machine: string;
  log: Logger;
  fbsCommand: string[];
}

export interface RunningPrimary {
  stop(): Promise<void>;
}

/**
 * `fbs start`: become the machine's primary, or, while a healthy one runs (a guardian
 * revived it, and now systemd restarts us too), stand by and take over when it dies.
 * Resolves null if the machine was stopped cleanly meanwhile.
 */
export function startOrStandBy(opts: PrimaryProcessOptions): Promise<RunningPrimary | null> {
  return new Promise((resolve, reject) => new TakeoverIo(opts, resolve, reject).begin());
}

/** An action's outcome: the next input, if it has one. */
type Outcome = TakeoverInput | null | void;

class TakeoverIo {
  private readonly takeover: Takeover;
  private readonly self: PrimaryState;
  private readonly ledger: RestartLedger;
  private readonly recorded: RecordedPrimary;
  private readonly charge: PrimaryCharge;
  private readonly admin: AdminPort;
  private readonly ticker: NodeJS.Timeout;
  /** Standing by: our workers, forked ahead. */
  private warm: WarmChildren | undefined;

  constructor(private readonly opts: PrimaryProcessOptions, private readonly resolve: (p: RunningPrimary | null) => void, private readonly reject: (err: unknown) => void) {
    const { config, machine, log, fbsCommand } = opts;
    const policy = timingPolicy(config.timing);
    this.takeover = new Takeover({ pid: process.pid, revivalTerm: revivalTermOf(process.env.FBS_TERM), warm: keepsStandby(config, machine), timing: policy });
    const machineDir = machineDirOf(config.dataDir, machine);
    mkdirSync(machineDir, { recursive: true });
    const restarts = (this.ledger = new RestartLedger(machineDir));
    this.recorded = new RecordedPrimary(config, machine, machineDir, log, (input) => this.step(input));
    this.charge = new PrimaryCharge(machineDir, config.storage.lockStaleMs);
    this.self = {
      config, machine, machineDir, term: 0, restarts: 0, primary: null, guardians: undefined,
      keeper: () => (this.self.guardians ??= keepGuardians({ config, machine, term: this.self.term, log, fbsCommand, restarts })),
    };
    this.admin = new AdminPort(this.self, log);
    this.ticker = setInterval(() => {
      this.step(this.recorded.look());
      this.step({ kind: 'tick' });
    }, policy.fenceLookEveryMs);
  }

  begin(): void {
    this.step({ kind: 'start', ...this.recorded.found() });
  }

  /** Feeds one input to the Takeover and performs its actions; each outcome is fed in turn. */
  private step(input: Outcome): void {
    try {
      for (const a of input ? this.takeover.step(input, performance.now()) : []) {
        Promise.resolve(this.act(a)).then((next) => this.step(next), (err: unknown) => this.fail(err));
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private act(a: TakeoverAction): Outcome | Promise<Outcome> {
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
      return this.charge.take(a.takeCharge, (detail) => this.step({ kind: 'lockCompromised', detail }));
    }
    if ('inCharge' in a) return this.inCharge(a.inCharge);
    if ('waitForSpace' in a) return log.error('cannot start: the data dir refuses writes; waiting for space', { error: a.waitForSpace.detail });
    if ('standBy' in a) {
      log.info('standing by: a primary is running', { reason: a.standBy.reason });
      return this.recorded.forget();
    }
    if ('ask' in a) return this.recorded.ask(a.ask.timeoutMs);
    if ('warmUp' in a) return void (this.warm = new WarmChildren(this.opts.machine, childSpecs(this.opts.config.workers).filter((c) => c.role === 'worker'), log));
    if ('stepDown' in a) {
      log.error('stepping down', { reason: a.stepDown.reason, term: this.self.term });
      process.exit(EXIT_STEPPED_DOWN);
    }
    return this.stopped();
  }

  private async inCharge({ previousPid, died }: { previousPid: number | null; died: boolean }): Promise<void> {
    clearInterval(this.ticker);
    const recordChanged = (record: RecordView | null): void => this.step({ kind: 'recordChanged', record });
    const last = (): Promise<void> => this.charge.letGo().then(() => this.admin.close());
    const { log, fbsCommand } = this.opts;
    const running = await runInCharge(this.self, { log, ledger: this.ledger, previousPid, died, recordChanged, last, fbsCommand, warm: this.warm });
    this.resolve({
      stop: () => {
        this.step({ kind: 'stopping' });
        return running.stop();
      },
    });
  }

  /** A revival that lost the race with a clean stop: the machine stays stopped. */
  private async stopped(): Promise<void> {
    clearInterval(this.ticker);
    this.recorded.forget();
    this.warm?.stop();
    await this.self.guardians?.stop();
    this.admin.close();
    this.resolve(null);
  }

  private fail(err: unknown): void {
    clearInterval(this.ticker);
    this.reject(err);
  }
}
