/**
 * The cluster primary of a machine: forks its children (the workers, one per
 * slot, so a re-forked worker carries on its slot's origin and seq, and the
 * replicator), re-forks any that dies or stops answering pings, and relays each
 * child's doorbell to the others. It serves no clients itself, so there is little
 * in it to fail.
 */
import cluster, { type Worker } from 'node:cluster';
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import { isClockOffsets } from '../replication/clock-skew';
import { isDoorbell } from './doorbell';

export type ChildRole = 'worker' | 'replicator';

interface ChildSpec {
  key: string; // e.g. "worker:0"
  role: ChildRole;
  slot: number;
}

export interface ChildInfo {
  role: ChildRole;
  slot: number;
  pid: number;
  restarts: number;
  /** ms since the child last answered a ping (-1 before its first answer). */
  heartbeatAgeMs: number;
  state: 'up' | 'starting';
}

export interface PrimaryOptions {
  config: ClusterConfig;
  machine: string;
  log: Logger;
}

export interface Primary {
  children(): ChildInfo[];
  /** Peers' clock offsets from this machine's, in ms, as the replicator last measured them. */
  clockOffsets(): Record<string, number>;
  stop(): Promise<void>;
}

/** V8's young-generation semi-space for children, in MB (node's default is 16). */
const SEMI_SPACE_MB = 4;

/** A dead child is seen at once by its exit; pings only catch a hung one, so they can be slow and cheap. */
const PING_MS = 1_000;

/** Children that keep dying sooner than this after their start are crash-looping: re-fork them with back-off. */
const HEALTHY_AFTER_MS = 5_000;

function childSpecs(config: ClusterConfig): ChildSpec[] {
  const workers = Array.from({ length: config.workers }, (_, slot) => ({ key: `worker:${slot}`, role: 'worker' as const, slot }));
  return [...workers, { key: 'replicator', role: 'replicator', slot: 0 }];
}

interface Running {
  spec: ChildSpec;
  worker: Worker;
  startedAt: number;
  lastPong: number; // 0 until the first pong
}

export function runPrimary({ config, machine, log }: PrimaryOptions): Primary {
  const running = new Map<string, Running>();
  const restarts = new Map<string, number>();
  const quickDeaths = new Map<string, number>();
  let stopping = false;
  let clockOffsets: Record<string, number> = {};

  const fork = (spec: ChildSpec): void => {
    const worker = cluster.fork({ FBS_MACHINE: machine, FBS_ROLE: spec.role, FBS_SLOT: String(spec.slot) });
    const entry: Running = { spec, worker, startedAt: Date.now(), lastPong: 0 };
    running.set(spec.key, entry);
    worker.on('message', (msg: unknown) => {
      if (isPong(msg)) {
        entry.lastPong = Date.now();
        return;
      }
      if (isClockOffsets(msg)) {
        clockOffsets = msg.offsets;
        return;
      }
      if (!isDoorbell(msg)) return;
      for (const other of running.values()) if (other.worker !== worker && other.worker.isConnected()) other.worker.send(msg);
    });
    worker.on('exit', (code, signal) => {
      if (running.get(spec.key) === entry) running.delete(spec.key);
      if (stopping) return;
      const n = (restarts.get(spec.key) ?? 0) + 1;
      restarts.set(spec.key, n);
      const quick = Date.now() - entry.startedAt < HEALTHY_AFTER_MS ? (quickDeaths.get(spec.key) ?? 0) + 1 : 0;
      quickDeaths.set(spec.key, quick);
      const delay = quick > 1 ? Math.min(100 * 2 ** quick, 3_000) : 0;
      log.warn(`${spec.role} died; re-forking`, { child: spec.key, childPid: worker.process.pid, code, signal, restarts: n, delayMs: delay });
      setTimeout(() => fork(spec), delay);
    });
  };

  // A small young generation keeps a worker holding 1,000 streams under 100 MB.
  cluster.setupPrimary({ execArgv: [...process.execArgv, `--max-semi-space-size=${SEMI_SPACE_MB}`] });
  for (const spec of childSpecs(config)) fork(spec);
  log.info('primary forked its children', { workers: config.workers });

  // Liveness beyond "the process exists": a child that stops answering pings is killed and re-forked.
  const { heartbeatMs, deadAfterMs } = config.timing;
  const pinger = setInterval(() => {
    const now = Date.now();
    for (const r of running.values()) {
      if (!r.worker.isConnected()) continue;
      r.worker.send({ type: 'ping' });
      const since = r.lastPong || r.startedAt;
      // Startup (loading room files) gets a generous allowance before the first pong.
      const limit = r.lastPong ? deadAfterMs * 3 : Math.max(deadAfterMs * 3, 30_000);
      if (now - since > limit) {
        log.error(`${r.spec.role} stopped answering; killing it`, { child: r.spec.key, childPid: r.worker.process.pid, silentMs: now - since });
        r.worker.process.kill('SIGKILL');
      }
    }
  }, Math.max(heartbeatMs, PING_MS));
  pinger.unref();

  return {
    children: () =>
      [...running.values()].map((r) => ({
        role: r.spec.role,
        slot: r.spec.slot,
        pid: r.worker.process.pid ?? 0,
        restarts: restarts.get(r.spec.key) ?? 0,
        heartbeatAgeMs: r.lastPong ? Date.now() - r.lastPong : -1,
        state: r.lastPong ? 'up' : 'starting',
      })),
    clockOffsets: () => clockOffsets,
    async stop() {
      stopping = true;
      clearInterval(pinger);
      const exits = [...running.values()].map((r) => new Promise((resolve) => r.worker.once('exit', resolve)));
      for (const r of running.values()) r.worker.process.kill('SIGTERM');
      await Promise.all(exits);
    },
  };
}

function isPong(msg: unknown): boolean {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'pong';
}

/** In a child: answer the primary's liveness pings. */
export function answerPings(): void {
  process.on('message', (msg: unknown) => {
    if (typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'ping') process.send?.({ type: 'pong' });
  });
}
