/**
 * A guardian watches its machine's primary (`fbs status` calls it a replica on the
 * master machine). It runs detached, in its own process group, so it outlives the
 * primary. Whether the primary died and who revives it with which term is the
 * Reviver's call (lib/control/reviver.ts, with PrimaryVerdict): this is its I/O,
 * on the monotonic clock (wall clocks here may jump).
 */
import { performance } from 'node:perf_hooks';
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import { Reviver } from '../control/reviver';
import { timingPolicy } from '../control/timing-policy';
import { guardianId } from './guardian-streams';
import { serveGuardian } from './guardian-server';
import { GuardianIo } from './guardian-io';
import { readRecord } from './primary-record';
import { machineDirOf } from '../storage/data-dir';

export interface GuardianOptions {
  config: ClusterConfig;
  machine: string;
  slot: number;
  log: Logger;
  fbsCommand: string[];
}

export async function runGuardian(opts: GuardianOptions): Promise<void> {
  const { config, machine, slot } = opts;
  const policy = timingPolicy(config.timing);
  const machineDir = machineDirOf(config.dataDir, machine);
  const me = guardianId(machine, slot);
  const members = Array.from({ length: config.guardians }, (_, i) => guardianId(machine, i));
  // New terms start above the newest primary's, so a revived primary always fences the old one.
  const { heartbeatMs, suspectAfterMs, deadAfterMs, electionTimeoutMs, startupGraceMs } = policy;
  const reviver = new Reviver(
    {
      self: me,
      members,
      detector: { heartbeatMs, suspectAfterMs, deadAfterMs, startupGraceMs },
      electionTimeoutMs,
      reviveGraceMs: policy.reviveGraceMs,
      initialTerm: readRecord(machineDir)?.term ?? 0,
      exitGraceMs: policy.exitGraceMs,
      standbyTakeOverMs: policy.standby.takeOverMs,
      beatFilesMs: policy.guardianBeatMs,
      decidedLogMs: policy.decidedLogMs,
    },
    performance.now(),
  );
  const io = new GuardianIo(opts, policy, reviver, me, members);
  // Serve first: a guardian whose slot is taken exits before the primary ever hears of it.
  const server = await serveGuardian(opts, () => reviver.verdict.term, (msg) => io.step({ kind: 'ring', msg }));
  io.tick();
  setInterval(() => io.tick(), policy.heartbeatMs);
  const stop = (): void => {
    server.forceShutdown();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
