/** A guardian's start of a new primary for its machine: detached (it outlives the guardian), with the term that fences the old one. */
import { spawn } from 'node:child_process';
import { serverCommandLine } from '../common/fbs-command-line';
import type { ReviverAction } from '../control/reviver';
import type { GuardianOptions } from './guardian';

type Revive = Extract<ReviverAction, { revive: unknown }>['revive'];

const WHY: Record<Revive['why'], string> = {
  elected: 'won the election; starting a new primary',
  unrevived: "the primary stayed dead past the ring's grace; starting it",
};

export function spawnPrimary({ config, machine, log, fbsCommand }: GuardianOptions, { term, why, silentMs }: Revive): void {
  const { cmd, args } = serverCommandLine(fbsCommand, { verb: 'start', machine, config: config.file });
  const child = spawn(cmd, args, {
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit'],
    // FBS_ELECTED: the new primary counts the election (inherited from an elected primary otherwise: cleared).
    env: { ...process.env, FBS_MACHINE: machine, FBS_TERM: String(term), FBS_ELECTED: why === 'elected' ? '1' : undefined },
  });
  child.unref();
  log.warn(WHY[why], { term, primaryPid: child.pid, silentMs: Math.round(silentMs) });
}
