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
import { ChildSupervisor, type ChildAction, type ChildSpec, type ChildView } from '../cluster/child-supervisor';
import { isClockOffsets, isMetricsAnswer, isQuotaAsk, type Pong, type QuotaAnswer } from '../machine/child-ipc';
import type { ProcessMetrics } from '../common/metrics';
import { ChildMetrics } from './child-metrics';
import { QuotaLedger } from '../core/quota-leases';
import { quotaRates } from './quotas';
import { ChatPresence, isChatMode, type PresenceUpdate } from './chat-presence';
import { isDoorbell } from '../machine/doorbell';
import { isAlive } from '../common/proc-stat';
import { breakLockOf, lockHolder } from '../storage/lock-owner';
import { roomLockPath } from '../storage/room-files';
import { isMessageOf } from '../common/ipc-message';
import { machineDirOf } from '../storage/data-dir';
import type { RestartLedger } from '../storage/restart-ledger';

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
  children.act(supervisor.start());
  log.info('primary forked its children', { workers: config.workers });
  const pinger = setInterval(() => children.act(supervisor.tick(performance.now())), supervisor.pingEveryMs);
  pinger.unref();

  return {
    children: () => supervisor.view(performance.now()).map((c) => ({ ...c, restarts: restarts.count(`${c.role}.${c.slot}`) })),
    clockOffsets: () => children.relay.clockOffsets,
    revive(role, slot, pid) {
      const { answer, actions } = supervisor.revive(role, slot, pid, performance.now());
      log[answer.startsWith('none') ? 'info' : 'warn'](`the master asked to revive ${role} ${slot}: ${answer}`, { askedPid: pid, action: answer });
      children.act(actions);
      return answer;
    },
    masterSeen: () => supervisor.masterSeen(performance.now()),
    childMetrics: () => children.metrics.gather(),
    async stop() {
      supervisor.stop();
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
  readonly metrics = new ChildMetrics(() => [...this.workers.values()]);
  private readonly breakDeadHoldersLock: (pid?: number) => void;

  constructor(config: ClusterConfig, private readonly machine: string, private readonly log: Logger, private readonly restarts: RestartLedger) {
    const { heartbeatMs, deadAfterMs } = config.timing;
    this.supervisor = new ChildSupervisor({ workers: config.workers, heartbeatMs, deadAfterMs });
    this.relay = new ChildRelay(this.workers, (key) => this.specOf(key).role === 'worker', new QuotaLedger(quotaRates(config.quotas)));
    this.breakDeadHoldersLock = roomLockBreaker(config, machine, log);
  }

  act(actions: ChildAction[]): void {
    for (const a of actions) {
      if ('fork' in a) {
        const { key, delayMs } = a.fork;
        if (delayMs === 0) this.fork(key);
        else setTimeout(() => this.fork(key), delayMs);
      } else if ('ping' in a) {
        const w = this.workers.get(a.ping.key);
        if (w?.isConnected()) w.send({ type: 'ping' });
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
    if (!this.supervisor.forkDue(key)) return;
    const spec = this.specOf(key);
    const worker = cluster.fork({ FBS_MACHINE: this.machine, FBS_ROLE: spec.role, FBS_SLOT: String(spec.slot) });
    const pid = worker.process.pid ?? 0;
    this.workers.set(key, worker);
    this.supervisor.forked(key, pid, performance.now());
    worker.on('message', (msg: unknown) => {
      if (isMessageOf(msg, 'pong')) this.act(this.supervisor.pong(key, pid, !!(msg as Pong).loading, performance.now()));
      else if (isMetricsAnswer(msg)) this.metrics.answered(msg);
      else this.relay.message(key, msg);
    });
    worker.on('exit', (code, signal) => this.exited(key, worker, pid, code, signal));
    // A message sent as the child dies fails (EPIPE); its exit follows, and is what counts.
    worker.on('error', (err) => this.log.warn(`could not reach ${spec.role} ${spec.slot}`, { childPid: pid, error: err.message }));
  }

  private exited(key: string, worker: Worker, pid: number, code: number, signal: string): void {
    if (this.workers.get(key) === worker) this.workers.delete(key);
    this.relay.gone(key);
    const actions = this.supervisor.exited(key, pid, code, performance.now());
    const refork = actions.find((x) => 'fork' in x);
    if (refork && 'fork' in refork) {
      const spec = this.specOf(key);
      this.restarts.bump(`${spec.role}.${spec.slot}`);
      this.log.warn(`${this.specOf(key).role} died; re-forking`, { child: key, childPid: pid, code, signal, restarts: this.supervisor.restartsOf(key), delayMs: refork.fork.delayMs });
    }
    this.act(actions);
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

/** What the primary passes between its children: doorbells, who is in chat mode on which worker, the replicator's clock offsets; and the machine's quota leases. */
class ChildRelay {
  private readonly presence = new ChatPresence();
  clockOffsets: Record<string, number> = {};

  constructor(private readonly children: Map<string, Worker>, private readonly isWorker: (key: string) => boolean, private readonly quotas: QuotaLedger) {}

  message(from: string, msg: unknown): void {
    if (isQuotaAsk(msg)) {
      const answer: QuotaAnswer = { type: 'quota-grant', id: msg.id, ...this.quotas.grant(msg.kind, msg.key, msg.want, Date.now()) };
      this.children.get(from)?.send(answer);
    } else if (isChatMode(msg)) this.tell(this.presence.report(from, msg.user, msg.on, this.workerKeys()));
    else if (isClockOffsets(msg)) this.clockOffsets = msg.offsets;
    else if (isDoorbell(msg)) for (const [k, other] of this.children) if (k !== from && other.isConnected()) other.send(msg);
  }

  /** The child serves now (it listens): tell a worker who is in chat mode elsewhere. */
  serving(key: string): void {
    if (this.isWorker(key)) this.tell(this.presence.snapshotFor(key));
  }

  /** The child exited: its chat streams died with it. */
  gone(key: string): void {
    this.tell(this.presence.removeWorker(key, this.workerKeys()));
  }

  private workerKeys(): string[] {
    return [...this.children.keys()].filter(this.isWorker);
  }

  private tell(updates: PresenceUpdate[]): void {
    for (const u of updates) {
      const to = this.children.get(u.to);
      if (to?.isConnected()) to.send(u.msg);
    }
  }
}
