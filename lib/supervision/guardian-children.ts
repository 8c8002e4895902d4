/**
 * The guardians a primary spawned itself: each detached (its own process group) so
 * that it outlives the primary, and the only guardians the primary ever signals (a
 * pid named on a Watch stream is never trusted for that). They run the same build
 * as the primary. Each slot's restarts are counted in the ledger, across primaries.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { ClusterConfig } from '../common/config';
import { serverCommandLine } from '../common/fbs-command-line';
import type { Logger } from '../common/log';
import type { GuardianSpawn } from '../control/guardian-slots';
import type { RestartLedger } from '../storage/restart-ledger';
import { terminate } from './primary-record';

export class GuardianChildren {
  private readonly children = new Set<ChildProcess>();

  constructor(private readonly opts: { config: ClusterConfig; machine: string; fbsCommand: string[]; restarts: RestartLedger; log: Logger }) {}

  /**
   * Spawns the slot's guardian and returns its pid (0 if it could not start). A
   * silent guardian may be hung holding the slot's port: `replacing` goes first,
   * SIGKILLed, if it is one of ours.
   */
  spawn({ slot, why, replacing, restart }: GuardianSpawn): number {
    for (const c of this.children) if (c.pid === replacing && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    const { config, machine, fbsCommand, restarts, log } = this.opts;
    const { cmd, args } = serverCommandLine(fbsCommand, { verb: 'guardian', machine, slot, config: config.file });
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, FBS_MACHINE: machine } });
    child.unref();
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    if (restart) restarts.bump(`guardian.${slot}`);
    log.info('spawned guardian', { slot, guardianPid: child.pid, why, restarts: restarts.count(`guardian.${slot}`) });
    return child.pid ?? 0;
  }

  /** Terminates the guardians we spawned (SIGKILL for those that outlive `graceMs`). */
  stop(graceMs: number): Promise<void> {
    return terminate([...this.children], graceMs);
  }
}
