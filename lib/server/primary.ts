/**
 * The cluster primary of a machine: forks its children (the workers, one per
 * slot, so a re-forked worker carries on its slot's origin and seq, and the
 * replicator), re-forks any that dies or stops answering pings, and relays each
 * child's doorbell to the others. It serves no clients itself, so there is little
 * in it to fail.
 */
import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ClusterConfig } from '../common/config';
import { EXIT_REBUILD_INDEX } from '../common/exit-codes';
import type { Logger } from '../common/log';
import { isClockOffsets } from '../replication/clock-skew';
import { ChatPresence, isChatMode, type PresenceUpdate } from './chat-presence';
import { isDoorbell } from './doorbell';
import { isAlive } from '../common/proc-stat';
import { breakLockOf, lockHolder } from '../storage/lock-owner';
import { roomLockPath } from '../storage/room-files';
import { isMessageOf } from '../common/ipc-message';

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
  /**
   * The master asks for the child of (role, slot) it believes lost as `pid` (0: the slot
   * has none): kill it if it still runs as `pid` and does not answer, fork it if the slot
   * has no child, else nothing. Idempotent; returns what it did.
   */
  revive(role: string, slot: number, pid: number): string;
  /** The master polled us: while it watches, hung children are its call (see MASTER_WATCH_MS). */
  masterSeen(): void;
  stop(): Promise<void>;
}

/** V8's young-generation semi-space for children, in MB (node's default is 16). */
const SEMI_SPACE_MB = 4;

/** A dead child is seen at once by its exit; pings only catch a hung one, so they can be slow and cheap. */
const PING_MS = 1_000;

/** A child silent this long has missed a ping and the failure timeout: it is not answering. */
export function notAnsweringAfterMs(deadAfterMs: number): number {
  return deadAfterMs + PING_MS;
}

/**
 * A child that has not yet served is loading: it answers pings between slices of
 * its load, but a host at a load average of 20 can leave it unscheduled for
 * seconds, and killing it only starts the load again. It gets this long.
 */
const STARTUP_ALLOWANCE_MS = 30_000;

/**
 * While the master has polled us within this (3 of its 1 s polls), it decides when a hung
 * child dies and our own kill limit grows, so the two do not race; without it we decide.
 */
const MASTER_WATCH_MS = 3_000;

/** Children that keep dying sooner than this after their start are crash-looping: re-fork them with back-off. */
const HEALTHY_AFTER_MS = 5_000;

export function childSpecs(config: ClusterConfig): ChildSpec[] {
  const workers = Array.from({ length: config.workers }, (_, slot) => ({ key: `worker:${slot}`, role: 'worker' as const, slot }));
  return [...workers, { key: 'replicator', role: 'replicator', slot: 0 }];
}

interface Running {
  spec: ChildSpec;
  worker: Worker;
  startedAt: number;
  lastPong: number; // 0 until the first pong
  /** It said it serves (before that it answers pings while it loads). */
  serving: boolean;
}

/** ms since the child last answered a ping (or since its start, before its first answer). */
function silentMs(r: Running, now: number): number {
  return now - (r.lastPong || r.startedAt);
}

export function runPrimary({ config, machine, log }: PrimaryOptions): Primary {
  const running = new Map<string, Running>();
  const restarts = new Map<string, number>();
  const quickDeaths = new Map<string, number>();
  let stopping = false;
  let clockOffsets: Record<string, number> = {};
  let masterSeenAt = -Infinity; // performance.now()

  const presence = new ChatPresence();
  const workerKeys = (): string[] => [...running.values()].filter((r) => r.spec.role === 'worker').map((r) => r.spec.key);
  const tell = (updates: PresenceUpdate[]): void => {
    for (const u of updates) {
      const to = running.get(u.to)?.worker;
      if (to?.isConnected()) to.send(u.msg);
    }
  };

  const fork = (spec: ChildSpec): void => {
    // A delayed re-fork finds its slot filled when the master had it forked at once.
    if (running.has(spec.key)) return;
    const worker = cluster.fork({ FBS_MACHINE: machine, FBS_ROLE: spec.role, FBS_SLOT: String(spec.slot) });
    const entry: Running = { spec, worker, startedAt: Date.now(), lastPong: 0, serving: false };
    running.set(spec.key, entry);
    worker.on('message', (msg: unknown) => {
      if (isMessageOf(msg, 'pong')) {
        entry.lastPong = Date.now();
        // Its first pong as a server: it serves and listens, so tell it who is in chat mode elsewhere.
        if (!entry.serving && !(msg as Pong).loading) {
          entry.serving = true;
          if (spec.role === 'worker') tell(presence.snapshotFor(spec.key));
        }
        return;
      }
      if (isChatMode(msg)) {
        tell(presence.report(spec.key, msg.user, msg.on, workerKeys()));
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
      breakDeadHoldersLock(worker.process.pid);
      tell(presence.removeWorker(spec.key, workerKeys())); // its chat streams died with it
      if (stopping) return;
      if (code === EXIT_REBUILD_INDEX) {
        log.warn('a child dropped the machine index; restarting the others so they load again', { child: spec.key });
        for (const other of running.values()) other.worker.process.kill('SIGTERM');
      }
      const n = (restarts.get(spec.key) ?? 0) + 1;
      restarts.set(spec.key, n);
      const quick = Date.now() - entry.startedAt < HEALTHY_AFTER_MS ? (quickDeaths.get(spec.key) ?? 0) + 1 : 0;
      quickDeaths.set(spec.key, quick);
      const delay = quick > 1 ? Math.min(100 * 2 ** quick, 3_000) : 0;
      log.warn(`${spec.role} died; re-forking`, { child: spec.key, childPid: worker.process.pid, code, signal, restarts: n, delayMs: delay });
      setTimeout(() => fork(spec), delay);
    });
  };

  // A writer killed holding the room lock would stall the others until the lock went
  // stale (2 s): break it at once when a child dies, at our start (the last tree's
  // children die with their primary), and on every ping round (one that outlived us
  // a moment, or any other dead holder).
  const roomLock = roomLockPath(join(config.dataDir, machine));
  const breakDeadHoldersLock = (pid = lockHolder(roomLock)): void => {
    if (pid && !isAlive(pid) && breakLockOf(roomLock, pid)) log.warn('broke the room lock of a dead writer', { holderPid: pid });
  };
  breakDeadHoldersLock();

  // A small young generation keeps a worker holding 1,000 streams under 100 MB.
  cluster.setupPrimary({ execArgv: [...process.execArgv, `--max-semi-space-size=${SEMI_SPACE_MB}`] });
  for (const spec of childSpecs(config)) fork(spec);
  log.info('primary forked its children', { workers: config.workers });

  // Liveness beyond "the process exists": a child that stops answering pings is killed and re-forked.
  const { heartbeatMs, deadAfterMs } = config.timing;
  const pinger = setInterval(() => {
    breakDeadHoldersLock();
    const now = Date.now();
    const watched = performance.now() - masterSeenAt < MASTER_WATCH_MS;
    const own = deadAfterMs * (watched ? 10 : 3);
    for (const r of running.values()) {
      if (!r.worker.isConnected()) continue;
      r.worker.send({ type: 'ping' });
      const limit = r.serving ? own : Math.max(own, STARTUP_ALLOWANCE_MS);
      if (silentMs(r, now) > limit) {
        log.error(`${r.spec.role} stopped answering; killing it`, { child: r.spec.key, childPid: r.worker.process.pid, silentMs: silentMs(r, now) });
        r.worker.process.kill('SIGKILL');
      }
    }
  }, Math.max(heartbeatMs, PING_MS));
  pinger.unref();

  const revive = (role: string, slot: number, pid: number): string => {
    masterSeenAt = performance.now();
    const spec = childSpecs(config).find((c) => c.role === role && c.slot === slot);
    if (!spec) return `none: no ${role} ${slot} here`;
    if (stopping) return 'none: stopping';
    const r = running.get(spec.key);
    if (!r) {
      fork(spec);
      return 'forked';
    }
    if (r.worker.process.pid !== pid) return 'none: already replaced';
    if (r.worker.process.killed) return 'none: already killed';
    const silent = silentMs(r, Date.now());
    if (silent <= (r.serving ? notAnsweringAfterMs(deadAfterMs) : STARTUP_ALLOWANCE_MS)) return 'none: it answers';
    r.worker.process.kill('SIGKILL');
    return 'killed';
  };

  return {
    children: () =>
      [...running.values()].map((r) => ({
        role: r.spec.role,
        slot: r.spec.slot,
        pid: r.worker.process.pid ?? 0,
        restarts: restarts.get(r.spec.key) ?? 0,
        heartbeatAgeMs: r.lastPong ? Date.now() - r.lastPong : -1,
        state: r.serving ? 'up' : 'starting',
      })),
    clockOffsets: () => clockOffsets,
    revive(role, slot, pid) {
      const action = revive(role, slot, pid);
      log[action.startsWith('none') ? 'info' : 'warn'](`the master asked to revive ${role} ${slot}: ${action}`, { askedPid: pid, action });
      return action;
    },
    masterSeen: () => {
      masterSeenAt = performance.now();
    },
    async stop() {
      stopping = true;
      clearInterval(pinger);
      const exits = [...running.values()].map((r) => new Promise((resolve) => r.worker.once('exit', resolve)));
      for (const r of running.values()) r.worker.process.kill('SIGTERM');
      await Promise.all(exits);
    },
  };
}

/** A child's answer to a ping; `loading` while it reads the machine's state and does not serve yet. */
interface Pong {
  type: 'pong';
  loading?: boolean;
}

/**
 * In a child, from its start: answer the primary's liveness pings, saying it is
 * loading until `serving()`, which also tells the primary at once (status shows
 * it up now, not a ping later). A loader yields often, so it answers throughout.
 */
export function answerPings(): { serving(): void } {
  let loading = true;
  const pong = (): void => void process.send?.({ type: 'pong', loading } satisfies Pong);
  process.on('message', (msg: unknown) => {
    if (isMessageOf(msg, 'ping')) pong();
  });
  return {
    serving: () => {
      loading = false;
      pong();
    },
  };
}
