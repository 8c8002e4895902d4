/**
 * A machine's primary process in its cluster role: the master on the master
 * machine, a supervisor elsewhere. When it takes charge, stands by, fences a stale
 * primary or steps down is the Takeover's call (lib/control/takeover.ts); this is
 * its I/O: the record, the admin port, the proper-lockfile lock, the probes and
 * the kills. Fencing is threefold: a stale primary that shows no life is killed
 * (it may only be paused), the admin port is bound by one process at a time, and
 * the lock plus a raised term in primary.json make a stale primary step down.
 */
import { isDiskFault } from '../core/disk-fault';
import { mkdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type * as grpc from '@grpc/grpc-js';
import { adminAddress, type ClusterConfig } from '../common/config';
import { EXIT_STEPPED_DOWN } from '../common/exit-codes';
import { errorMessage, type Logger } from '../common/log';
import { Takeover, type Found, type TakeoverAction, type TakeoverInput } from '../control/takeover';
import { timingPolicy, type TimingPolicy } from '../control/timing-policy';
import { BeatWatcher, primaryBeatPath } from './beat-file';
import { AdminPeer } from './admin-client';
import { keepGuardians } from './guardian-keeper';
import { AlreadyRunning, serveAdmin, type PrimaryState } from './primary-admin';
import { primaryRole } from './roles';
import { isAlive } from '../common/proc-stat';
import { isServerOf, readRecord, writeRecord } from './primary-record';
import { runInCharge } from './primary-in-charge';
import { takePrimaryLock } from './primary-lock';
import { machineDirOf } from '../storage/data-dir';
import { RestartLedger } from '../storage/restart-ledger';

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
 * `fbs start`: become the machine's primary, or, while a healthy one runs (a
 * guardian revived it, and now systemd restarts us too), stand by and take over
 * when it dies. Resolves null if the machine was stopped cleanly meanwhile.
 */
export function startOrStandBy(opts: PrimaryProcessOptions): Promise<RunningPrimary | null> {
  return new Promise((resolve, reject) => new TakeoverIo(opts, resolve, reject).begin());
}

/** Carries out the Takeover's actions and reports their outcomes back as inputs. */
class TakeoverIo {
  private readonly policy: TimingPolicy;
  private readonly takeover: Takeover;
  private readonly self: PrimaryState;
  private readonly ticker: NodeJS.Timeout;
  private admin: grpc.Server | null = null;
  private release: (() => Promise<void>) | null = null;
  /** The recorded primary being probed or fenced: its beat file, to see it live. */
  private probed: { pid: number; beats: BeatWatcher } | null = null;
  private readonly ledger: RestartLedger;

  constructor(
    private readonly opts: PrimaryProcessOptions,
    private readonly resolve: (p: RunningPrimary | null) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    const { config, machine, log, fbsCommand } = opts;
    this.policy = timingPolicy(config.timing);
    const revival = process.env.FBS_TERM;
    this.takeover = new Takeover({ pid: process.pid, revivalTerm: revival === undefined ? undefined : Number(revival) || 0, timing: this.policy });
    const machineDir = machineDirOf(config.dataDir, machine);
    mkdirSync(machineDir, { recursive: true });
    const restarts = (this.ledger = new RestartLedger(machineDir));
    this.self = {
      config, machine, machineDir, term: 0, restarts: 0, primary: null, guardians: undefined,
      keeper: () => (this.self.guardians ??= keepGuardians({ config, machine, term: this.self.term, log, fbsCommand, restarts })),
    };
    this.ticker = setInterval(() => this.tick(), this.policy.fenceLookEveryMs);
  }

  begin(): void {
    this.step({ kind: 'start', ...this.found() });
  }

  private step(input: TakeoverInput): void {
    try {
      this.act(this.takeover.step(input, performance.now()));
    } catch (err) {
      this.fail(err);
    }
  }

  /** The record, and whether its pid still runs as a server of this machine (not us). */
  private found(): Found {
    const record = readRecord(this.self.machineDir);
    const pid = record?.pid ?? 0;
    return { record, recordedRuns: pid !== 0 && pid !== process.pid && isAlive(pid) && isServerOf(pid, this.opts.machine) };
  }

  /** While probing or fencing: a touch of the stale primary's beat file is life, its death is news. */
  private tick(): void {
    if (this.probed && !isAlive(this.probed.pid)) this.step({ kind: 'recordedGone' });
    else if (this.probed?.beats.beaten()) this.step({ kind: 'lifeSign' });
    this.step({ kind: 'tick' });
  }

  private act(actions: TakeoverAction[]): void {
    const { log } = this.opts;
    for (const a of actions) {
      if ('probe' in a) this.probe(a.probe.pid);
      else if ('fence' in a) this.fence(a.fence.pid, a.fence.silentMs);
      else if ('bind' in a) this.bind();
      else if ('keepGuardians' in a) {
        this.self.term = a.keepGuardians.term;
        this.self.keeper();
      }
      else if ('takeCharge' in a) void this.takeCharge(a.takeCharge.term, a.takeCharge.restarts);
      else if ('inCharge' in a) this.inCharge(a.inCharge).catch((err: unknown) => this.fail(err));
      else if ('waitForSpace' in a) log.error('cannot start: the data dir refuses writes; waiting for space', { error: a.waitForSpace.detail });
      else if ('standBy' in a) this.standBy(a.standBy.reason);
      else if ('ask' in a) this.ask(a.ask.timeoutMs);
      else if ('stepDown' in a) {
        log.error('stepping down', { reason: a.stepDown.reason, term: this.self.term });
        process.exit(EXIT_STEPPED_DOWN);
      } else void this.stopped();
    }
  }

  /** Whether primary `pid` answers its admin port as itself (its beat file and death are watched by tick()). */
  private probe(pid: number): void {
    const beats = new BeatWatcher(primaryBeatPath(this.self.machineDir));
    beats.beaten(); // the mtime as it is now: only a change counts
    this.probed = { pid, beats };
    const peer = new AdminPeer(adminAddress(this.opts.config, this.opts.machine), this.opts.config);
    peer
      .heartbeat(this.policy.fenceSilenceMs)
      .then((res) => res.pid === pid && this.probed?.pid === pid && this.step({ kind: 'lifeSign' }), () => undefined)
      .finally(() => peer.close());
  }

  /** Kills the stale primary's process group so it can never run beside its successor; tick() sees it die. */
  private fence(pid: number, silentMs: number): void {
    this.opts.log.warn('fencing an unresponsive primary', { stalePid: pid, silentMs });
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        /* not a group leader, or already gone */
      }
    }
  }

  private bind(): void {
    this.probed = null;
    serveAdmin(this.self, this.opts.log).then(
      (server) => {
        this.admin = server;
        this.step({ kind: 'bound', ok: true, detail: '', record: readRecord(this.self.machineDir) });
      },
      (err) => (err instanceof AlreadyRunning ? this.step({ kind: 'bound', ok: false, detail: err.message, record: null }) : this.fail(err)),
    );
  }

  /** Takes the primary lock and writes our record. We alone hold the admin port now, so a lock left behind belongs to a dead primary. */
  private async takeCharge(term: number, restarts: number): Promise<void> {
    this.self.restarts = restarts;
    try {
      this.release ??= await takePrimaryLock(this.self.machineDir, this.opts.config.storage.lockStaleMs, (detail) => this.step({ kind: 'lockCompromised', detail }));
      await writeRecord(this.self.machineDir, { pid: process.pid, term, restarts, startedAt: new Date().toISOString() });
      this.step({ kind: 'charged' });
    } catch (err) {
      if (!isDiskFault(err)) return this.fail(err);
      await this.release?.().catch(() => undefined);
      this.release = null;
      this.step({ kind: 'chargeFailed', detail: errorMessage(err) });
    }
  }

  private async inCharge({ term, restarts, previousPid, died }: { term: number; restarts: number; previousPid: number | null; died: boolean }): Promise<void> {
    const { config, machine, log } = this.opts;
    clearInterval(this.ticker);
    log.info(`${primaryRole(config, machine)} in charge`, { term, restarts, previousPid });
    const running = await runInCharge(this.self, { log, ledger: this.ledger, died, recordChanged: (record) => this.step({ kind: 'recordChanged', record }) });
    this.resolve({
      stop: async () => {
        this.step({ kind: 'stopping' });
        await running.stop(async () => {
          await this.release?.();
          this.admin?.forceShutdown();
        });
      },
    });
  }

  private standBy(reason: string): void {
    this.opts.log.info('standing by: a primary is running', { reason });
    this.probed = null;
  }

  private ask(timeoutMs: number): void {
    const peer = new AdminPeer(adminAddress(this.opts.config, this.opts.machine), this.opts.config);
    peer
      .heartbeat(timeoutMs)
      .then(() => true, () => false)
      .then((alive) => {
        peer.close();
        this.step({ kind: 'answered', alive, ...this.found() });
      });
  }

  /** A revival that lost the race with a clean stop: the machine stays stopped. */
  private async stopped(): Promise<void> {
    clearInterval(this.ticker);
    await this.self.guardians?.stop();
    this.admin?.forceShutdown();
    this.resolve(null);
  }

  private fail(err: unknown): void {
    clearInterval(this.ticker);
    this.reject(err);
  }
}
