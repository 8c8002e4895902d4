/**
 * A primary keeps its machine's guardians alive: it heartbeats each guardian
 * slot over gRPC and spawns a new guardian (detached, in its own process group,
 * so it outlives this primary) for any slot that stops answering.
 */
import { spawn } from 'node:child_process';
import { adminAddress, type ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import { AdminPeer } from './admin-client';
import { terminate } from './primary-record';

/** How long a freshly spawned guardian may take to answer before it is spawned again. */
const SPAWN_GRACE_MS = 5_000;

export interface GuardianView {
  slot: number;
  pid: number;
  restarts: number;
  heartbeatAgeMs: number;
  state: 'up' | 'dead' | 'starting';
}

export interface GuardianKeeperOptions {
  config: ClusterConfig;
  machine: string;
  term: () => number;
  log: Logger;
  /** argv to run `fbs` again (node + script), so guardians run the same build as us. */
  fbsCommand: string[];
}

export function keepGuardians(opts: GuardianKeeperOptions): { view(): GuardianView[]; stop(): Promise<void> } {
  const { config, machine, log } = opts;
  const { heartbeatMs, deadAfterMs } = config.timing;
  const slots = Array.from({ length: config.guardians }, (_, slot) => ({
    slot,
    peer: new AdminPeer(adminAddress(config, machine, slot), config.secret),
    pid: 0,
    lastSeen: 0,
    spawnedAt: 0,
    restarts: 0,
    inFlight: false,
  }));

  const spawnGuardian = (s: (typeof slots)[number]): void => {
    const [cmd, ...args] = opts.fbsCommand;
    const child = spawn(cmd, [...args, 'guardian', '--machine', machine, '--slot', String(s.slot), '--config', config.file], {
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, FBS_MACHINE: machine },
    });
    child.unref();
    if (s.spawnedAt > 0 || s.lastSeen > 0) s.restarts++;
    s.spawnedAt = Date.now();
    log.info('spawned guardian', { slot: s.slot, guardianPid: child.pid, restarts: s.restarts });
  };

  const check = (): void => {
    const now = Date.now();
    for (const s of slots) {
      if (s.inFlight) continue;
      s.inFlight = true;
      s.peer
        .heartbeat({ from: `${machine}.primary`, term: opts.term() }, heartbeatMs * 2)
        .then((res) => {
          s.pid = res.pid;
          s.lastSeen = Date.now();
        })
        .catch(() => {
          // Spawn at once if the slot was never filled; otherwise after the failure timeout
          // (or, for one we just spawned, after a start-up allowance).
          const never = s.lastSeen === 0 && s.spawnedAt === 0;
          const allowance = s.spawnedAt > s.lastSeen ? SPAWN_GRACE_MS : deadAfterMs;
          if (never || now - Math.max(s.lastSeen, s.spawnedAt) > allowance) spawnGuardian(s);
        })
        .finally(() => {
          s.inFlight = false;
        });
    }
  };
  const timer = setInterval(check, heartbeatMs);
  timer.unref();
  check();

  return {
    view: () =>
      slots.map((s) => {
        const age = s.lastSeen ? Date.now() - s.lastSeen : -1;
        return {
          slot: s.slot,
          pid: s.pid,
          restarts: s.restarts,
          heartbeatAgeMs: age,
          state: s.lastSeen === 0 ? 'starting' : age > deadAfterMs ? 'dead' : 'up',
        };
      }),
    /** Stops keeping them and terminates the guardians we know of. */
    stop: async () => {
      clearInterval(timer);
      for (const s of slots) s.peer.close();
      await terminate(slots.map((s) => s.pid));
    },
  };
}
