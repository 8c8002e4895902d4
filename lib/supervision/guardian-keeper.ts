/**
 * A primary keeps its machine's guardians alive. Each guardian holds a Watch
 * stream open to the primary: its first message says who it is (the primary
 * answers with its term), and the stream breaking says one side died. Beats go
 * through beat files, both ways: the primary's every heartbeatMs, each guardian's
 * every guardianBeatMs (lib/control/timing-policy.ts). When a slot gets a new guardian is decided by
 * GuardianSlots (lib/control/guardian-slots.ts); it is spawned detached (its own
 * process group) so it outlives this primary. Only guardians this primary spawned
 * are ever signalled; a pid named on a Watch stream is never trusted for that.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import type { Beat, Beat__Output } from '../gen/ftchat/Beat';
import { Beater, BeatWatcher, primaryBeatPath } from './beat-file';
import { GuardianSlots, type GuardianSlotsOptions, type SlotInput, type SlotView } from '../control/guardian-slots';
import { timingPolicy, type TimingPolicy } from '../control/timing-policy';
import { diesWithin, terminate } from './primary-record';
import { serveGuardianStream, STOPPING } from './guardian-streams';
import { guardianBeatPath, machineDirOf } from '../storage/data-dir';
import { serverCommandLine } from '../common/fbs-command-line';
import type { RestartLedger } from '../storage/restart-ledger';

export interface GuardianKeeperOptions {
  config: ClusterConfig;
  machine: string;
  term: number;
  log: Logger;
  /** argv to run `fbs` again (node + script), so guardians run the same build as us. */
  fbsCommand: string[];
  /** Each slot's restarts across primaries (what status shows). */
  restarts: RestartLedger;
}

export interface GuardianKeeper {
  /** The Admin.Watch handler: each guardian says who it is here, and its stream breaking says it died. */
  watch: grpc.handleBidiStreamingCall<Beat__Output, Beat>;
  view(): SlotView[];
  /** Stops keeping them and terminates the guardians we know of. */
  stop(): Promise<void>;
}

export function keepGuardians(opts: GuardianKeeperOptions): GuardianKeeper {
  return new Guardians(opts);
}

/** The I/O of GuardianSlots (lib/control/guardian-slots.ts), which decides when a slot gets a new guardian. */
class Guardians implements GuardianKeeper {
  private readonly slots: GuardianSlots;
  private readonly beatFiles: BeatWatcher[];
  /** The guardians we spawned ourselves: the only ones we ever signal. */
  private readonly children = new Set<ChildProcess>();
  private readonly streams = new Set<grpc.ServerDuplexStream<Beat__Output, Beat>>();
  private readonly answer: Beat;
  private readonly timer: NodeJS.Timeout;
  private readonly policy: TimingPolicy;
  private stopping = false;
  private readonly respawns: number[] = [];

  constructor(private readonly opts: GuardianKeeperOptions) {
    const { config, machine, log } = opts;
    const machineDir = machineDirOf(config.dataDir, machine);
    this.policy = timingPolicy(config.timing);
    this.slots = new GuardianSlots(slotOptions(config.guardians, this.policy), performance.now());
    this.beatFiles = Array.from({ length: config.guardians }, (_, slot) => new BeatWatcher(guardianBeatPath(machineDir, slot)));
    const beater = new Beater(primaryBeatPath(machineDir), log);
    this.answer = { from: `${machine}.primary`, pid: process.pid, term: opts.term };
    this.timer = setInterval(() => {
      beater.beat();
      this.beatFiles.forEach((f, slot) => f.beaten() && this.step({ kind: 'beaten', slot }));
      this.step({ kind: 'tick' });
    }, this.policy.heartbeatMs);
    this.timer.unref();
  }

  watch: GuardianKeeper['watch'] = (call) => {
    const { config, machine, log } = this.opts;
    this.streams.add(call);
    serveGuardianStream(call, config, machine, log, {
      hello: (g) => {
        this.step({ kind: 'hello', ...g });
        return this.stopping ? STOPPING : this.answer;
      },
      broken: (g) => {
        this.streams.delete(call);
        if (g) this.step({ kind: 'streamBroken', ...g });
      },
    });
  };

  view(): SlotView[] {
    return this.slots.view(performance.now()).map((g) => ({ ...g, restarts: this.opts.restarts.count(`guardian.${g.slot}`) }));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    // Guardians from before us are not our children: we never signal them. They exit when told.
    for (const call of this.streams) {
      call.write(STOPPING);
      call.end();
    }
    await terminate([...this.children], this.policy.guardianStopGraceMs);
  }

  /** Feeds GuardianSlots one input (none once stopping) and carries out its actions. */
  private step(input: SlotInput): void {
    if (this.stopping) return;
    for (const a of this.slots.step(input, performance.now())) {
      if ('checkExit' in a) {
        const { slot, pid, withinMs } = a.checkExit;
        void diesWithin(pid, withinMs).then((dead) => dead && this.step({ kind: 'exited', slot, pid }));
      } else this.spawn(a.spawn);
    }
  }

  private spawn({ slot, why, replacing }: { slot: number; why: string; replacing: number }): void {
    // A silent guardian of ours may be hung holding the slot's port: it goes first.
    for (const c of this.children) if (c.pid === replacing && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    const child = spawnGuardian(this.opts, slot);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    this.step({ kind: 'spawned', slot, pid: child.pid ?? 0 });
    // GuardianSlots counts this primary's respawns; the ledger carries them across primaries.
    const restarts = this.slots.view(performance.now())[slot].restarts;
    if (restarts > (this.respawns[slot] ?? 0)) this.opts.restarts.bump(`guardian.${slot}`);
    this.respawns[slot] = restarts;
    this.opts.log.info('spawned guardian', { slot, guardianPid: child.pid, why, restarts: this.opts.restarts.count(`guardian.${slot}`) });
  }
}

function slotOptions(slots: number, policy: TimingPolicy): GuardianSlotsOptions {
  return { slots, detector: policy.guardianSilence, firstConnectMs: policy.guardianFirstConnectMs, spawnGraceMs: policy.guardianSpawnGraceMs, exitGraceMs: policy.exitGraceMs };
}

/** Spawns the slot's guardian detached (its own process group), so it outlives us. */
function spawnGuardian(opts: GuardianKeeperOptions, slot: number): ChildProcess {
  const { config, machine } = opts;
  const { cmd, args } = serverCommandLine(opts.fbsCommand, { verb: 'guardian', machine, slot, config: config.file });
  const child = spawn(cmd, args, {
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, FBS_MACHINE: machine },
  });
  child.unref();
  return child;
}
