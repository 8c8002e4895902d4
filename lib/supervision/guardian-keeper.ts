/**
 * A primary keeps its machine's guardians alive. Each guardian holds a Watch
 * stream open to the primary: its first message says who it is (the primary
 * answers with its term), and the stream breaking says one side died. Beats go
 * through beat files, both ways: the primary's every heartbeatMs, each guardian's
 * every GUARDIAN_BEAT_MS. A slot whose guardian has not beaten within the failure
 * timeout gets a new guardian, spawned detached (its own process group) so it
 * outlives this primary.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { internalRequestError } from '../core/input-bounds';
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import type { Beat, Beat__Output } from '../gen/ftchat/Beat';
import { Beater, BeatWatcher, guardianBeatPath, primaryBeatPath } from './beat-file';
import { diesWithin, terminate } from './primary-record';

/**
 * Guardians beat to their primary this often. A killed guardian is seen at once (its
 * stream breaks, its pid is dead), so its beats only have to catch a hung one: they
 * can be slow. The primary's own beats stay fast (every heartbeatMs), since the
 * guardians must notice a paused primary within the failure timeout.
 */
export const GUARDIAN_BEAT_MS = 1_000;

/** How long after its stream broke a guardian's pid may take to be seen dead (it is still exiting). */
export const EXIT_GRACE_MS = 500;

/** How long a freshly spawned guardian may take to beat before it is spawned again. */
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
  term: number;
  log: Logger;
  /** argv to run `fbs` again (node + script), so guardians run the same build as us. */
  fbsCommand: string[];
}

export interface GuardianKeeper {
  /** The Admin.Watch handler: each guardian says who it is here, and its stream breaking says it died. */
  watch: grpc.handleBidiStreamingCall<Beat__Output, Beat>;
  view(): GuardianView[];
  /** Stops keeping them and terminates the guardians we know of. */
  stop(): Promise<void>;
}

export function guardianId(machine: string, slot: number): string {
  return `${machine}.g${slot}`;
}

export function keepGuardians(opts: GuardianKeeperOptions): GuardianKeeper {
  const { config, machine, log } = opts;
  const { heartbeatMs } = config.timing;
  const deadAfterMs = Math.max(config.timing.deadAfterMs, 3 * GUARDIAN_BEAT_MS);
  const machineDir = join(config.dataDir, machine);
  const slots = Array.from({ length: config.guardians }, (_, slot) => ({
    slot, pid: 0, lastSeen: 0, spawnedAt: 0, restarts: 0, beats: new BeatWatcher(guardianBeatPath(machineDir, slot)),
  }));
  const streams = new Set<grpc.ServerDuplexStream<Beat__Output, Beat>>();
  const startedAt = Date.now();
  let stopping = false;

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
    s.pid = child.pid ?? 0; // status shows the newcomer, starting, not the dead one
    log.info('spawned guardian', { slot: s.slot, guardianPid: child.pid, restarts: s.restarts });
  };

  const beater = new Beater(primaryBeatPath(machineDir), log);
  const answer = { from: `${machine}.primary`, pid: process.pid, term: opts.term };
  const beat = (): void => {
    const now = Date.now();
    beater.beat();
    for (const s of slots) {
      if (s.beats.beaten()) s.lastSeen = now;
      // A guardian alive from before we started connects within a beat or two: give it that long.
      const never = s.lastSeen === 0 && s.spawnedAt === 0 && now - startedAt > heartbeatMs * 3;
      const allowance = s.spawnedAt > s.lastSeen ? SPAWN_GRACE_MS : deadAfterMs;
      if (never || (s.spawnedAt + s.lastSeen > 0 && now - Math.max(s.lastSeen, s.spawnedAt) > allowance)) spawnGuardian(s);
    }
  };
  const timer = setInterval(beat, heartbeatMs);
  timer.unref();

  return {
    watch: (call) => {
      streams.add(call);
      let guardian: { slot: (typeof slots)[number]; pid: number } | undefined;
      const done = (): void => {
        streams.delete(call);
        // Same machine: a broken stream from a guardian whose pid is dead needs no timeout,
        // if it was still the slot's guardian and no replacement is on its way.
        const g = guardian;
        guardian = undefined;
        const current = (): boolean => !stopping && !!g && g.slot.pid === g.pid && g.slot.spawnedAt <= g.slot.lastSeen;
        if (!current()) return;
        void diesWithin(g!.pid, EXIT_GRACE_MS).then((dead) => {
          if (dead && current()) spawnGuardian(g!.slot);
        });
      };
      call.on('data', (b: Beat__Output) => {
        const bad = internalRequestError('Watch', b);
        if (bad) {
          log.warn('refused a beat', { reason: bad });
          call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: bad });
          return;
        }
        const s = slots.find((x) => guardianId(machine, x.slot) === b.from);
        if (!s) return;
        guardian = { slot: s, pid: b.pid };
        s.pid = b.pid;
        s.lastSeen = Date.now();
        call.write(answer);
      });
      call.on('end', () => {
        done();
        call.end();
      });
      call.on('error', done);
      call.on('cancelled', done);
    },
    view: () =>
      slots.map((s) => {
        const age = s.lastSeen ? Date.now() - s.lastSeen : -1;
        return {
          slot: s.slot,
          pid: s.pid,
          restarts: s.restarts,
          heartbeatAgeMs: age,
          state: s.lastSeen === 0 || s.lastSeen < s.spawnedAt ? 'starting' : age > deadAfterMs ? 'dead' : 'up',
        };
      }),
    stop: async () => {
      stopping = true;
      clearInterval(timer);
      for (const call of streams) call.end();
      await terminate(slots.map((s) => s.pid));
    },
  };
}
