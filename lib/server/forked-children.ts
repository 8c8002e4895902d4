/**
 * A machine's forked children (the workers and the replicator): the I/O of
 * ChildSupervisor (lib/control/child-supervisor.ts), which decides when to fork,
 * ping, kill, re-fork with back-off and break a dead writer's room lock. The
 * processes themselves are ChildProcesses'.
 */
import { performance } from 'node:perf_hooks';
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import { ChildSupervisor, type ChildAction, type ChildInput } from '../control/child-supervisor';
import type { RestartLedger } from '../storage/restart-ledger';
import { ChildProcesses } from './child-processes';
import { deadWriterLockBreaker } from './dead-writer-lock';
import type { WarmChildren } from './warm-children';

export class ForkedChildren {
  readonly supervisor: ChildSupervisor;
  readonly processes: ChildProcesses;
  private readonly breakLock: (pid?: number) => void;

  constructor(config: ClusterConfig, machine: string, private readonly log: Logger, private readonly restarts: RestartLedger, warm?: WarmChildren) {
    const { heartbeatMs, deadAfterMs } = config.timing;
    this.supervisor = new ChildSupervisor({ workers: config.workers, heartbeatMs, deadAfterMs });
    this.processes = new ChildProcesses(config, machine, log, (key) => this.supervisor.specOf(key).role === 'worker', (input) => this.step(input), warm);
    this.breakLock = deadWriterLockBreaker(config, machine, log);
  }

  /** Feeds one input to the supervisor and carries out its actions; returns its answer to a revival request. */
  step(input: ChildInput): string | undefined {
    const actions = this.supervisor.step(input, performance.now());
    for (const a of actions) this.act(a);
    return actions.flatMap((a) => ('answer' in a ? [a.answer] : []))[0];
  }

  private act(a: ChildAction): void {
    if ('fork' in a) {
      if (a.fork.delayMs === 0) this.processes.fork(this.supervisor.specOf(a.fork.key));
      else setTimeout(() => this.step({ kind: 'due', key: a.fork.key }), a.fork.delayMs);
    } else if ('ping' in a) this.processes.ping(a.ping.key);
    else if ('kill' in a) {
      const { key, pid, silentMs, asked } = a.kill;
      if (!asked) this.log.error(`${this.supervisor.specOf(key).role} stopped answering; killing it`, { child: key, childPid: pid, silentMs: Math.round(silentMs) });
      this.processes.kill(key, 'SIGKILL');
    } else if ('died' in a) {
      const { key, role, slot, pid, code, signal, restarts, delayMs } = a.died;
      this.restarts.bump(`${role}.${slot}`);
      this.log.warn(`${role} died; re-forking`, { child: key, childPid: pid, code, signal, restarts, delayMs });
    } else if ('breakLock' in a) this.breakLock(a.breakLock.pid);
    else if ('restartOthers' in a) {
      this.log.warn('a child dropped the machine index; restarting the others so they load again', { child: a.restartOthers.key });
      this.processes.kill('all', 'SIGTERM');
    } else if ('serving' in a) this.processes.relay.serving(a.serving.key);
  }
}
