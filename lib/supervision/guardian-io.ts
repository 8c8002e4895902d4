/**
 * A guardian's I/O: it carries out the Reviver's actions (ring messages to its
 * siblings, a new primary, its Watch stream to the primary, a pid to check, its
 * exit) and reports their outcomes, and its beat files, back as inputs.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { adminAddress } from '../common/config';
import type { GuardianAction, GuardianInput } from '../control/reviver';
import type { TimingPolicy } from '../control/timing-policy';
import { AdminPeer } from './admin-client';
import { Beater, BeatWatcher, primaryBeatPath } from './beat-file';
import { toWire } from './guardian-server';
import type { GuardianOptions } from './guardian';
import { diesWithin, readRecord } from './primary-record';
import { guardianBeatPath, machineDirOf } from '../storage/data-dir';
import { serverCommandLine } from '../common/fbs-command-line';

/** Carries out a guardian's actions and reports their outcomes (and its beat files) back as inputs. */
export class GuardianIo {
  step: (input: GuardianInput) => void = () => undefined;
  private readonly machineDir: string;
  private readonly primary: AdminPeer;
  private readonly siblings: Map<string, AdminPeer>;
  private readonly primaryBeats: BeatWatcher;
  private readonly myBeats: Beater;
  private readonly siblingBeats: [string, BeatWatcher][];
  private lastBeat = -Infinity;
  private decidedLoggedAt = -Infinity;

  constructor(private readonly opts: GuardianOptions, private readonly policy: TimingPolicy, private readonly me: string, members: string[]) {
    const { config, machine, slot, log } = opts;
    this.machineDir = machineDirOf(config.dataDir, machine);
    this.primary = new AdminPeer(adminAddress(config, machine), config);
    const others = members.map((id, i) => [id, i] as const).filter(([id]) => id !== me);
    this.siblings = new Map(others.map(([id, i]) => [id, new AdminPeer(adminAddress(config, machine, i), config)]));
    this.primaryBeats = new BeatWatcher(primaryBeatPath(this.machineDir));
    this.myBeats = new Beater(guardianBeatPath(this.machineDir, slot), log);
    // A sibling the ring routed around (a failed delivery while it restarted) rejoins once it beats again.
    this.siblingBeats = others.map(([id, i]) => [id, new BeatWatcher(guardianBeatPath(this.machineDir, i))]);
  }

  /** Every heartbeat: the primary's beat file; every guardian beat, our own beat file and the siblings'; then the tick. */
  tick(): void {
    if (this.primaryBeats.beaten()) this.step({ kind: 'beat' });
    if (performance.now() - this.lastBeat >= this.policy.guardianBeatMs) {
      this.myBeats.beat();
      for (const [id, beats] of this.siblingBeats) if (beats.beaten()) this.step({ kind: 'siblingAlive', id });
      this.lastBeat = performance.now();
    }
    this.step({ kind: 'tick' });
  }

  act(actions: GuardianAction[]): void {
    const { log } = this.opts;
    for (const a of actions) {
      if ('send' in a) this.send(a.send.to, a.send.msg);
      else if ('revive' in a) startPrimary(this.opts, a.revive);
      else if ('openWatch' in a) this.openWatch();
      else if ('checkPid' in a) this.checkPid(a.checkPid.pid, a.checkPid.withinMs);
      else if ('exit' in a) {
        log.info(`${a.exit.reason}; guardian exiting`);
        process.exit(0);
      } else if ('electing' in a) log.warn('primary is dead; starting an election', { silentMs: Math.round(a.electing.silentMs) });
      else if (performance.now() - this.decidedLoggedAt >= this.policy.decidedLogMs) {
        this.decidedLoggedAt = performance.now();
        log.info('election decided', { term: a.decided.term, leader: a.decided.leaderId });
      }
    }
  }

  private send(to: string, msg: Parameters<typeof toWire>[0]): void {
    const failed = (): void => this.step({ kind: 'deliveryFailed', to, msg });
    const peer = this.siblings.get(to);
    if (!peer) return failed();
    peer.elect(toWire(msg, this.me), this.policy.ringSendMs).catch(failed);
  }

  /** Our Watch stream to the primary: we say who we are, its answers carry its pid and term; it breaks once. */
  private openWatch(): void {
    const stream = this.primary.watch();
    let broken = false;
    const onBroken = (): void => {
      if (broken) return;
      broken = true;
      this.step({ kind: 'broken', recordPid: readRecord(this.machineDir)?.pid ?? null });
    };
    stream.write({ from: this.me, pid: process.pid, term: 0 });
    stream.on('data', (b: { pid: number; term: number }) => this.step({ kind: 'answer', pid: b.pid, term: Number(b.term) }));
    stream.on('error', onBroken);
    stream.on('end', onBroken);
  }

  private checkPid(pid: number, withinMs: number): void {
    void diesWithin(pid, withinMs).then((gone) => this.step({ kind: 'pidChecked', pid, gone, recordPid: readRecord(this.machineDir)?.pid ?? null }));
  }
}

/** Starts a new primary of the machine, detached (it outlives us), with the term to fence the old one. */
function startPrimary(opts: GuardianOptions, { term, why, silentMs }: { term: number; why: string; silentMs: number }): void {
  const { config, machine, log } = opts;
  const { cmd, args } = serverCommandLine(opts.fbsCommand, { verb: 'start', machine, config: config.file });
  const child = spawn(cmd, args, {
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit'],
    // FBS_ELECTED: the new primary counts the election (inherited from an elected primary otherwise: cleared).
    env: { ...process.env, FBS_MACHINE: machine, FBS_TERM: String(term), FBS_ELECTED: why === 'elected' ? '1' : undefined },
  });
  child.unref();
  const msg = why === 'elected' ? 'won the election; starting a new primary' : "the primary stayed dead past the ring's grace; starting it";
  log.warn(msg, { term, primaryPid: child.pid, silentMs: Math.round(silentMs) });
}
