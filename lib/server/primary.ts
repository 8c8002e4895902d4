/**
 * The cluster primary of a machine: forks its children (the workers, one per
 * slot, so a re-forked worker carries on its slot's origin and seq, and the
 * replicator), re-forks any that dies or stops answering pings, and relays each
 * child's doorbell, chat presence and clock offsets. It serves no clients itself,
 * so there is little in it to fail. When to fork, ping, kill or back off is
 * ChildSupervisor's call; this is its I/O.
 */
import cluster, { type Worker } from 'node:cluster';
import { performance } from 'node:perf_hooks';
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import { ChildSupervisor, type ChildAction, type ChildInput, type ChildSpec, type ChildView } from '../cluster/child-supervisor';
import { ChildRelay } from './child-relay';
import type { ProcessMetrics } from '../common/metrics';
import { ChildMetrics } from './child-metrics';
import type { RestartLedger } from '../storage/restart-ledger';
import { QuotaLedger } from '../core/quota-leases';
import { quotaRates } from './quotas';
import { isAlive } from '../common/proc-stat';
import { breakLockOf, lockHolder } from '../storage/lock-owner';
import { roomLockPath } from '../storage/room-files';
import { IpcInbox, type Ping } from '../common/ipc-message';
import { machineDirOf } from '../storage/data-dir';

export interface PrimaryOptions {
  config: ClusterConfig;
  machine: string;
  log: Logger;
  /** Each slot's restarts across primaries (what status shows). */
  restarts: RestartLedger;
}

export interface Primary {
  children(): ChildView[];
  /** Peers' clock offsets from this machine's, in ms, as the replicator last measured them. */
  clockOffsets(): Record<string, number>;
  /** The master asks for the child of (role, slot) it believes lost as `pid`: see ChildSupervisor.revive. */
  revive(role: string, slot: number, pid: number): string;
  /** The master polled us: while it watches, hung children are its call. */
  masterSeen(): void;
  /** Each child's metrics, for the machine's endpoint to sum. */
  childMetrics(): Promise<ProcessMetrics[]>;
  stop(): Promise<void>;
}

/** V8's young-generation semi-space for children, in MB (node's default is 16). */
const SEMI_SPACE_MB = 4;

/** The I/O of ChildSupervisor (lib/cluster/child-supervisor.ts), which decides what happens when. */
export function runPrimary({ config, machine, log, restarts }: PrimaryOptions): Primary {
  const children = new ForkedChildren(config, machine, log, restarts);
  const { supervisor } = children;
  // A small young generation keeps a worker holding 1,000 streams under 100 MB.
  cluster.setupPrimary({ execArgv: [...process.execArgv, `--max-semi-space-size=${SEMI_SPACE_MB}`] });
  children.step({ kind: 'start' });
  log.info('primary forked its children', { workers: config.workers });
  const pinger = setInterval(() => children.step({ kind: 'tick' }), supervisor.pingEveryMs);
  pinger.unref();

  return {
    children: () => supervisor.view(performance.now()).map((c) => ({ ...c, restarts: restarts.count(`${c.role}.${c.slot}`) })),
    clockOffsets: () => children.relay.clockOffsets,
    revive(role, slot, pid) {
      const answer = children.step({ kind: 'reviveAsked', role, slot, pid }) ?? 'none';
      log[answer.startsWith('none') ? 'info' : 'warn'](`the master asked to revive ${role} ${slot}: ${answer}`, { askedPid: pid, action: answer });
      return answer;
    },
    masterSeen: () => children.step({ kind: 'masterSeen' }),
    childMetrics: () => children.metrics.gather(),
    async stop() {
      children.step({ kind: 'stop' });
      clearInterval(pinger);
      await children.terminate();
    },
  };
}

/** The machine's forked children, doing what ChildSupervisor decides. */
class ForkedChildren {
  readonly supervisor: ChildSupervisor;
  readonly relay: ChildRelay;
  private readonly workers = new Map<string, Worker>();
  private readonly breakDeadHoldersLock: (pid?: number) => void;

  readonly metrics = new ChildMetrics(() => [...this.workers.values()]);

  constructor(config: ClusterConfig, private readonly machine: string, private readonly log: Logger, private readonly restarts: RestartLedger) {
    const { heartbeatMs, deadAfterMs } = config.timing;
    this.supervisor = new ChildSupervisor({ workers: config.workers, heartbeatMs, deadAfterMs });
    this.relay = new ChildRelay(this.workers, (key) => this.specOf(key).role === 'worker', new QuotaLedger(quotaRates(config.quotas)));
    this.breakDeadHoldersLock = roomLockBreaker(config, machine, log);
  }

  /** Feeds one input to the supervisor and carries out its actions; returns its answer to a revival request. */
  step(input: ChildInput): string | undefined {
    let answer: string | undefined;
    for (const a of this.supervisor.step(input, performance.now())) {
      if ('answer' in a) answer = a.answer;
      else this.act(a);
    }
    return answer;
  }

  private act(a: Exclude<ChildAction, { answer: string }>): void {
    {
      if ('fork' in a) {
        const { key, delayMs } = a.fork;
        if (delayMs === 0) this.fork(key);
        else setTimeout(() => this.step({ kind: 'due', key }), delayMs);
      } else if ('ping' in a) {
        const w = this.workers.get(a.ping.key);
        if (w?.isConnected()) w.send({ type: 'ping' } satisfies Ping);
      } else if ('kill' in a) {
        const { key, pid, silentMs, asked } = a.kill;
        if (!asked) this.log.error(`${this.specOf(key).role} stopped answering; killing it`, { child: key, childPid: pid, silentMs: Math.round(silentMs) });
        this.workers.get(key)?.process.kill('SIGKILL');
      } else if ('breakLock' in a) this.breakDeadHoldersLock(a.breakLock.pid);
      else if ('restartOthers' in a) {
        this.log.warn('a child dropped the machine index; restarting the others so they load again', { child: a.restartOthers.key });
        for (const w of this.workers.values()) w.process.kill('SIGTERM');
      } else this.relay.serving(a.serving.key);
    }
  }

  /** SIGTERMs every child and resolves once all have exited. */
  async terminate(): Promise<void> {
    const exits = [...this.workers.values()].map((w) => new Promise((resolve) => w.once('exit', resolve)));
    for (const w of this.workers.values()) w.process.kill('SIGTERM');
    await Promise.all(exits);
  }

  private specOf(key: string): ChildSpec {
    return this.supervisor.specs.find((s) => s.key === key)!;
  }

  private fork(key: string): void {
    const spec = this.specOf(key);
    const worker = cluster.fork({ FBS_MACHINE: this.machine, FBS_ROLE: spec.role, FBS_SLOT: String(spec.slot) });
    const pid = worker.process.pid ?? 0;
    this.workers.set(key, worker);
    this.step({ kind: 'forked', key, pid });
    const inbox = new IpcInbox(worker, this.log)
      .on('pong', (msg) => this.step({ kind: 'pong', key, pid, loading: !!msg.loading }))
      .on('metrics', (msg) => this.metrics.answered(msg));
    this.relay.listen(key, inbox);
    worker.on('exit', (code, signal) => this.exited(key, worker, pid, code, signal));
    // A message sent as the child dies fails (EPIPE); its exit follows, and is what counts.
    worker.on('error', (err) => this.log.warn(`could not reach ${spec.role} ${spec.slot}`, { childPid: pid, error: err.message }));
  }

  private exited(key: string, worker: Worker, pid: number, code: number, signal: string): void {
    if (this.workers.get(key) === worker) this.workers.delete(key);
    this.relay.gone(key);
    const actions = this.supervisor.step({ kind: 'exited', key, pid, code }, performance.now());
    const refork = actions.find((x) => 'fork' in x);
    if (refork && 'fork' in refork) {
      const spec = this.specOf(key);
      this.restarts.bump(`${spec.role}.${spec.slot}`);
      this.log.warn(`${this.specOf(key).role} died; re-forking`, { child: key, childPid: pid, code, signal, restarts: this.supervisor.restartsOf(key), delayMs: refork.fork.delayMs });
    }
    for (const a of actions) if (!('answer' in a)) this.act(a);
  }
}

/** A writer killed holding the room lock would stall the others until the lock went stale (2 s): break it. */
function roomLockBreaker(config: ClusterConfig, machine: string, log: Logger): (pid?: number) => void {
  const roomLock = roomLockPath(machineDirOf(config.dataDir, machine));
  return (pid) => {
    const holder = pid ?? lockHolder(roomLock);
    if (holder && !isAlive(holder) && breakLockOf(roomLock, holder)) log.warn('broke the room lock of a dead writer', { holderPid: holder });
  };
}

