/**
 * The node:cluster processes of a machine's children, by slot key: forks one (its
 * IPC read through one IpcInbox, relayed by ChildRelay, its metrics gathered by
 * ChildMetrics), pings and signals them, and waits for all to exit. What they say
 * and when they exit comes back as ChildSupervisor's inputs.
 */
import cluster, { type Worker } from 'node:cluster';
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import { IpcInbox, type Ping } from '../common/ipc-message';
import type { ChildInput, ChildSpec } from '../control/child-supervisor';
import { QuotaLedger } from '../core/quota-leases';
import { ChildMetrics } from './child-metrics';
import { ChildRelay } from './child-relay';
import { quotaRates } from './quotas';
import type { WarmChildren } from './warm-children';

/** V8's young-generation semi-space for children, in MB (node's default is 16). */
const SEMI_SPACE_MB = 4;

/** A node:cluster child of this primary for `spec`; `env` adds to what identifies it. */
export function forkChild(machine: string, { role, slot }: ChildSpec, env: Record<string, string> = {}): Worker {
  // A small young generation keeps a worker holding 1,000 streams under 100 MB.
  cluster.setupPrimary({ execArgv: [...process.execArgv, `--max-semi-space-size=${SEMI_SPACE_MB}`] });
  return cluster.fork({ FBS_MACHINE: machine, FBS_ROLE: role, FBS_SLOT: String(slot), ...env });
}

export class ChildProcesses {
  private readonly workers = new Map<string, Worker>();
  readonly relay: ChildRelay;
  readonly metrics = new ChildMetrics(() => [...this.workers.values()]);

  constructor(
    config: ClusterConfig,
    private readonly machine: string,
    private readonly log: Logger,
    isWorker: (key: string) => boolean,
    private readonly heard: (input: ChildInput) => void,
    private readonly warm?: WarmChildren,
  ) {
    this.relay = new ChildRelay(this.workers, isWorker, new QuotaLedger(quotaRates(config.quotas)));
  }

  /** Forks the child of the spec, or takes the one a standby forked ahead for it. */
  fork(spec: ChildSpec): void {
    const { key, role, slot } = spec;
    const worker = this.warm?.take(key) ?? forkChild(this.machine, spec);
    const pid = worker.process.pid ?? 0;
    this.workers.set(key, worker);
    this.heard({ kind: 'forked', key, pid });
    const inbox = new IpcInbox(worker, this.log)
      .on('pong', (msg) => this.heard({ kind: 'pong', key, pid, loading: !!msg.loading }))
      .on('metrics', (msg) => this.metrics.answered(msg));
    this.relay.listen(key, inbox);
    worker.on('exit', (code, signal) => {
      if (this.workers.get(key) === worker) this.workers.delete(key);
      this.relay.gone(key);
      this.heard({ kind: 'exited', key, pid, code, signal });
    });
    // A message sent as the child dies fails (EPIPE); its exit follows, and is what counts.
    worker.on('error', (err) => this.log.warn(`could not reach ${role} ${slot}`, { childPid: pid, error: err.message }));
  }

  ping(key: string): void {
    const w = this.workers.get(key);
    if (w?.isConnected()) w.send({ type: 'ping' } satisfies Ping);
  }

  /** Signals the child of `key`, or every child. */
  kill(key: string | 'all', signal: NodeJS.Signals): void {
    for (const [k, w] of this.workers) if (key === 'all' || k === key) w.process.kill(signal);
  }

  /** SIGTERMs every child and resolves once all have exited. */
  async terminate(): Promise<void> {
    const exits = [...this.workers.values()].map((w) => new Promise((resolve) => w.once('exit', resolve)));
    this.kill('all', 'SIGTERM');
    await Promise.all(exits);
  }
}
