/**
 * The cluster primary of a machine: forks the workers, re-forks any that dies
 * into the same slot (so its origin and seq carry on), and relays each worker's
 * doorbell to the others. It serves nothing itself, so there is little in it to fail.
 */
import cluster, { type Worker } from 'node:cluster';
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import { isDoorbell } from './doorbell';

export interface PrimaryOptions {
  config: ClusterConfig;
  machine: string;
  log: Logger;
}

/** Workers that keep dying sooner than this after their start are crash-looping: re-fork them with back-off. */
const HEALTHY_AFTER_MS = 5_000;

export function runPrimary({ config, machine, log }: PrimaryOptions): { stop: () => Promise<void> } {
  const slots = new Map<number, Worker>();
  const restarts = new Map<number, number>();
  const quickDeaths = new Map<number, number>();
  let stopping = false;

  const fork = (slot: number): void => {
    const worker = cluster.fork({ FBS_MACHINE: machine, FBS_ROLE: 'worker', FBS_SLOT: String(slot) });
    const startedAt = Date.now();
    slots.set(slot, worker);
    worker.on('message', (msg: unknown) => {
      if (!isDoorbell(msg)) return;
      for (const other of slots.values()) if (other !== worker && other.isConnected()) other.send(msg);
    });
    worker.on('exit', (code, signal) => {
      if (slots.get(slot) === worker) slots.delete(slot);
      if (stopping) return;
      const n = (restarts.get(slot) ?? 0) + 1;
      restarts.set(slot, n);
      const quick = Date.now() - startedAt < HEALTHY_AFTER_MS ? (quickDeaths.get(slot) ?? 0) + 1 : 0;
      quickDeaths.set(slot, quick);
      const delay = quick > 1 ? Math.min(100 * 2 ** quick, 3_000) : 0;
      log.warn('worker died; re-forking', { slot, workerPid: worker.process.pid, code, signal, restarts: n, delayMs: delay });
      setTimeout(() => fork(slot), delay);
    });
  };

  for (let slot = 0; slot < config.workers; slot++) fork(slot);
  log.info('primary started', { workers: config.workers });

  const stop = async (): Promise<void> => {
    stopping = true;
    const exits = [...slots.values()].map((w) => new Promise((resolve) => w.once('exit', resolve)));
    for (const w of slots.values()) w.process.kill('SIGTERM');
    await Promise.all(exits);
  };
  return { stop };
}
