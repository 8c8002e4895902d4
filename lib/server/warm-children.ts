/**
 * A standby primary's workers, forked ahead: each starts node and loads its modules
 * (most of a worker's start on a loaded host), then waits for `go`, sent once its
 * primary is in charge, before it touches the machine's files. A standby that takes
 * over hands them to its ChildProcesses in place of new forks; one that dies first
 * takes them with it (a node:cluster child exits with its primary).
 */
import type { Worker } from 'node:cluster';
import type { Logger } from '../common/log';
import type { Go } from '../common/ipc-message';
import type { ChildSpec } from '../control/child-supervisor';
import { forkChild } from './child-processes';

export class WarmChildren {
  private readonly waiting = new Map<string, Worker>();

  constructor(machine: string, specs: ChildSpec[], log: Logger) {
    for (const spec of specs) {
      const worker = forkChild(machine, spec, { FBS_WARM: '1' });
      this.waiting.set(spec.key, worker);
      worker.once('exit', (code, signal) => {
        if (this.waiting.get(spec.key) !== worker) return;
        this.waiting.delete(spec.key);
        log.warn(`a standby ${spec.role} exited; its slot will be forked afresh`, { childPid: worker.process.pid, code, signal });
      });
    }
    log.info('standby forked its workers ahead', { workers: specs.length, pids: [...this.waiting.values()].map((w) => w.process.pid) });
  }

  /** The waiting child of `key`, told to go, if it is still there. */
  take(key: string): Worker | undefined {
    const worker = this.waiting.get(key);
    this.waiting.delete(key);
    if (!worker?.isConnected()) return undefined;
    worker.send({ type: 'go' } satisfies Go);
    return worker;
  }

  /** Ends those not taken. */
  stop(): void {
    for (const w of this.waiting.values()) w.process.kill('SIGKILL');
    this.waiting.clear();
  }
}
