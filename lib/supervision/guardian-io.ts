/**
 * A guardian's I/O: it carries out the Reviver's actions (ring messages to its
 * siblings, a new primary, its Watch stream to the primary, a pid to check, its
 * beat files, its exit) and feeds their outcomes back as inputs.
 */
import { performance } from 'node:perf_hooks';
import type { GuardianAction, GuardianInput, Reviver } from '../control/reviver';
import type { TimingPolicy } from '../control/timing-policy';
import { machineDirOf } from '../storage/data-dir';
import type { GuardianOptions } from './guardian';
import { GuardianBeats } from './guardian-beats';
import { GuardianRing } from './guardian-ring';
import { PrimaryWatch } from './primary-watch';
import { spawnPrimary } from './primary-spawn';

export class GuardianIo {
  private readonly beats: GuardianBeats;
  private readonly ring: GuardianRing;
  private readonly primary: PrimaryWatch;

  constructor(private readonly opts: GuardianOptions, policy: TimingPolicy, private readonly reviver: Reviver, me: string, members: string[]) {
    const machineDir = machineDirOf(opts.config.dataDir, opts.machine);
    const siblings = members.map((id, i) => [id, i] as const).filter(([id]) => id !== me);
    const step = (input: GuardianInput): void => this.step(input);
    this.beats = new GuardianBeats(machineDir, opts.slot, siblings, opts.log);
    this.ring = new GuardianRing(opts, me, siblings, policy.ringSendMs, step);
    this.primary = new PrimaryWatch(opts, machineDir, me, step);
  }

  /** Feeds one input to the Reviver and carries out its actions. */
  step(input: GuardianInput): void {
    for (const a of this.reviver.step(input, performance.now())) this.act(a);
  }

  /** Every heartbeat: the primary's beat file, then the tick. */
  tick(): void {
    for (const input of this.beats.primaryBeat()) this.step(input);
    this.step({ kind: 'tick' });
  }

  private act(a: GuardianAction): void {
    const { log } = this.opts;
    if ('send' in a) this.ring.send(a.send.to, a.send.msg);
    else if ('revive' in a) spawnPrimary(this.opts, a.revive);
    else if ('openWatch' in a) this.primary.open();
    else if ('checkPid' in a) this.primary.checkPid(a.checkPid.pid, a.checkPid.withinMs);
    else if ('beatFiles' in a) for (const input of this.beats.beatAndLook()) this.step(input);
    else if ('electing' in a) log.warn('primary is dead; starting an election', { silentMs: Math.round(a.electing.silentMs) });
    else if ('decided' in a) log.info('election decided', { term: a.decided.term, leader: a.decided.leaderId });
    else {
      log.info(`${a.exit.reason}; guardian exiting`);
      process.exit(0);
    }
  }
}
