/**
 * A primary in charge keeps a warm standby for its machine (when the config asks for
 * one): when to look and when to spawn is StandbySlot's call (lib/control/standby-slot.ts);
 * this shell finds the machine's standbys in /proc and spawns one, detached (its own
 * process group, so it outlives us and a fence of our group), as a plain `fbs start`.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { ClusterConfig } from '../common/config';
import { serverCommandLine } from '../common/fbs-command-line';
import type { Logger } from '../common/log';
import { metrics } from '../common/metrics';
import { standbyPids } from '../common/processes';
import { StandbySlot, type StandbyAction, type StandbyInput } from '../control/standby-slot';
import { timingPolicy } from '../control/timing-policy';

export interface StandbyKeeperOptions {
  config: ClusterConfig;
  machine: string;
  log: Logger;
  fbsCommand: string[];
  /** Whether one of our workers serves yet. */
  serving(): boolean;
}

export function keepStandby({ config, machine, log, fbsCommand, serving }: StandbyKeeperOptions): { stop(): void } {
  const policy = timingPolicy(config.timing);
  const slot = new StandbySlot(policy.standby, performance.now());
  const step = (input: StandbyInput): void => slot.step(input, performance.now()).forEach(act);
  const act = (a: StandbyAction): void => {
    if ('look' in a) {
      const standbys = standbyPids(config.file, machine, process.pid).length;
      metrics.standbys.set(standbys);
      return step({ kind: 'looked', standbys, serving: serving() });
    }
    const { cmd, args } = serverCommandLine(fbsCommand, { verb: 'start', machine, config: config.file });
    // Not a guardian's revival (no term, no election to count), and no terminal summary of its own.
    const env = { ...process.env, FBS_MACHINE: machine, FBS_SUMMARY: '0', FBS_TERM: undefined, FBS_ELECTED: undefined };
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'inherit', 'inherit'], env });
    child.unref();
    log.info('spawned a standby', { standbyPid: child.pid, failures: a.spawn.failures });
  };
  const timer = setInterval(() => step({ kind: 'tick' }), policy.standby.lookEveryMs);
  timer.unref();
  return {
    stop() {
      step({ kind: 'stopping' });
      clearInterval(timer);
    },
  };
}
