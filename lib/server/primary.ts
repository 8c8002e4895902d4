/**
 * The cluster primary of a machine: forks its children (the workers, one per
 * slot, so a re-forked worker carries on its slot's origin and seq, and the
 * replicator), re-forks any that dies or stops answering pings, and relays each
 * child's doorbell, chat presence and clock offsets. It serves no clients itself,
 * so there is little in it to fail. When to fork, ping, kill or back off is
 * ChildSupervisor's call; this is its I/O.
 */
import { performance } from 'node:perf_hooks';
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import { answerLevel, type ChildView } from '../control/child-supervisor';
import { ForkedChildren } from './forked-children';
import type { ProcessMetrics } from '../common/metrics';
import type { RestartLedger } from '../storage/restart-ledger';
import type { WarmChildren } from './warm-children';

export interface PrimaryOptions {
  config: ClusterConfig;
  machine: string;
  log: Logger;
  /** Each slot's restarts across primaries (what status shows). */
  restarts: RestartLedger;
  /** A standby's children forked ahead, taken in place of first forks. */
  warm?: WarmChildren;
}

export interface Primary {
  children(): ChildView[];
  /** Peers' clock offsets from this machine's, in ms, as the replicator last measured them. */
  clockOffsets(): Record<string, number>;
  /** The master asks for the child of (role, slot) it believes lost as `pid` (ChildSupervisor's reviveAsked): the answer, one line. */
  revive(role: string, slot: number, pid: number): string;
  /** The master polled us: while it watches, hung children are its call. */
  masterSeen(): void;
  /** Each child's metrics, for the machine's endpoint to sum. */
  childMetrics(): Promise<ProcessMetrics[]>;
  stop(): Promise<void>;
}

/** The I/O of ChildSupervisor (lib/control/child-supervisor.ts), which decides what happens when. */
export function runPrimary({ config, machine, log, restarts, warm }: PrimaryOptions): Primary {
  const children = new ForkedChildren(config, machine, log, restarts, warm);
  const { supervisor } = children;
  children.step({ kind: 'start' });
  log.info('primary forked its children', { workers: config.workers });
  const pinger = setInterval(() => children.step({ kind: 'tick' }), supervisor.pingEveryMs);
  pinger.unref();

  return {
    children: () => supervisor.view(performance.now()).map((c) => ({ ...c, restarts: restarts.count(`${c.role}.${c.slot}`) })),
    clockOffsets: () => children.processes.relay.clockOffsets,
    revive(role, slot, pid) {
      const answer = children.step({ kind: 'reviveAsked', role, slot, pid }) ?? 'none';
      log[answerLevel(answer)](`the master asked to revive ${role} ${slot}: ${answer}`, { askedPid: pid, action: answer });
      return answer;
    },
    masterSeen: () => children.step({ kind: 'masterSeen' }),
    childMetrics: () => children.processes.metrics.gather(),
    async stop() {
      children.step({ kind: 'stop' });
      clearInterval(pinger);
      await children.processes.terminate();
    },
  };
}
