/**
 * A machine's forked children (node:cluster workers: the workers and the
 * replicator), doing what ChildSupervisor decides: fork, ping, kill, re-fork with
 * back-off, break a dead writer's room lock; each child's IPC read through one
 * IpcInbox and relayed (ChildRelay), its metrics gathered (ChildMetrics).
 */
import cluster, { type Worker } from 'node:cluster';
import { performance } from 'node:perf_hooks';
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import { ChildSupervisor, type ChildAction, type ChildInput, type ChildSpec } from '../control/child-supervisor';
import { ChildRelay } from './child-relay';
import { ChildMetrics } from './child-metrics';
import type { RestartLedger } from '../storage/restart-ledger';
import { QuotaLedger } from '../core/quota-leases';
import { quotaRates } from './quotas';
import { isAlive } from '../common/proc-stat';
import { breakLockOf, lockHolder } from '../storage/lock-owner';
import { roomLockPath } from '../storage/room-files';
import { IpcInbox, type Ping } from '../common/ipc-message';
import { machineDirOf } from '../storage/data-dir';

export class ForkedChildren {
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

