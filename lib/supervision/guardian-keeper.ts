/**
 * A primary keeps its machine's guardians alive. Each guardian holds a Watch
 * stream open to the primary: its first message says who it is (the primary
 * answers with its term), and the stream breaking says one side died. Beats go
 * through beat files, both ways: the primary's every heartbeatMs, each guardian's
 * every GUARDIAN_BEAT_MS. When a slot gets a new guardian is decided by
 * GuardianSlots (lib/cluster/guardian-slots.ts); it is spawned detached (its own
 * process group) so it outlives this primary. Only guardians this primary spawned
 * are ever signalled; a pid named on a Watch stream is never trusted for that.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { internalRequestError } from '../core/input-bounds';
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import type { Beat, Beat__Output } from '../gen/ftchat/Beat';
import { Beater, BeatWatcher, primaryBeatPath } from './beat-file';
import { GuardianSlots, type GuardianSlotsOptions, type SlotAction, type SlotView } from '../cluster/guardian-slots';
import { diesWithin, isGuardianOf, terminate } from './primary-record';
import { guardianBeatPath, machineDirOf } from '../storage/data-dir';
import type { RestartLedger } from '../storage/restart-ledger';
import { serverCommandLine } from '../common/fbs-command-line';

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

export function guardianId(machine: string, slot: number): string {
  return `${machine}.g${slot}`;
}

export function keepGuardians(opts: GuardianKeeperOptions): GuardianKeeper {
  return new Guardians(opts);
}

/** The I/O of GuardianSlots (lib/cluster/guardian-slots.ts), which decides when a slot gets a new guardian. */
class Guardians implements GuardianKeeper {
  private readonly slots: GuardianSlots;
  private readonly beatFiles: BeatWatcher[];
  /** The guardians we spawned ourselves: the only ones we ever signal. */
  private readonly children = new Set<ChildProcess>();
  private readonly streams = new Set<grpc.ServerDuplexStream<Beat__Output, Beat>>();
  private readonly answer: Beat;
  private readonly timer: NodeJS.Timeout;
  private stopping = false;
  private readonly respawns: number[] = [];

  constructor(private readonly opts: GuardianKeeperOptions) {
    const { config, machine, log } = opts;
    const machineDir = machineDirOf(config.dataDir, machine);
    this.slots = new GuardianSlots(slotOptions(config), performance.now());
    this.beatFiles = Array.from({ length: config.guardians }, (_, slot) => new BeatWatcher(guardianBeatPath(machineDir, slot)));
    const beater = new Beater(primaryBeatPath(machineDir), log);
    this.answer = { from: `${machine}.primary`, pid: process.pid, term: opts.term };
    this.timer = setInterval(() => {
      const now = performance.now();
      beater.beat();
      this.beatFiles.forEach((f, slot) => f.beaten() && this.slots.beaten(slot, now));
      this.act(this.slots.tick(now));
    }, config.timing.heartbeatMs);
    this.timer.unref();
  }

  watch: GuardianKeeper['watch'] = (call) => {
    const { config, machine, log } = this.opts;
    this.streams.add(call);
    serveGuardianStream(call, config, machine, log, {
      hello: (g) => {
        this.slots.connected(g.slot, g.pid, performance.now());
        return this.stopping ? STOPPING : this.answer;
      },
      broken: (g) => {
        this.streams.delete(call);
        this.broken(g);
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
    await terminate([...this.children]);
  }

  /** Same machine: a broken stream from a guardian whose pid is dead needs no timeout,
   * if it was still the slot's guardian and no replacement is on its way. */
  private broken(g: { slot: number; pid: number } | undefined): void {
    if (this.stopping || !g || !this.slots.isCurrent(g.slot, g.pid)) return;
    void diesWithin(g.pid, EXIT_GRACE_MS).then((dead) => {
      if (dead && !this.stopping) this.act(this.slots.exited(g.slot, g.pid, performance.now()));
    });
  }

  private act(actions: SlotAction[]): void {
    for (const { spawn: { slot, why, replacing } } of actions) {
      // A silent guardian of ours may be hung holding the slot's port: it goes first.
      for (const c of this.children) if (c.pid === replacing && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      const child = spawnGuardian(this.opts, slot);
      this.children.add(child);
      child.once('exit', () => this.children.delete(child));
      this.slots.spawned(slot, child.pid ?? 0);
      // GuardianSlots counts this primary's respawns; the ledger carries them across primaries.
      const restarts = this.slots.view(performance.now())[slot].restarts;
      if (restarts > (this.respawns[slot] ?? 0)) this.opts.restarts.bump(`guardian.${slot}`);
      this.respawns[slot] = restarts;
      this.opts.log.info('spawned guardian', { slot, guardianPid: child.pid, why, restarts: this.opts.restarts.count(`guardian.${slot}`) });
    }
  }
}

function slotOptions(config: ClusterConfig): GuardianSlotsOptions {
  const { heartbeatMs, suspectAfterMs, deadAfterMs } = config.timing;
  return {
    slots: config.guardians,
    detector: {
      heartbeatMs: GUARDIAN_BEAT_MS,
      suspectAfterMs: Math.max(suspectAfterMs, 2 * GUARDIAN_BEAT_MS),
      deadAfterMs: Math.max(deadAfterMs, 3 * GUARDIAN_BEAT_MS),
    },
    // A guardian alive from before we started connects within a beat or two: give it that long.
    firstConnectMs: 3 * heartbeatMs,
    spawnGraceMs: SPAWN_GRACE_MS,
  };
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

/**
 * Which guardian a Watch beat says it is: undefined for another sender (not one of
 * our slots), or why it is refused. The pid comes from the network: it counts only if
 * this machine runs it as that slot's guardian.
 */
function guardianOf(b: Beat__Output, config: ClusterConfig, machine: string): { slot: number; pid: number } | string | undefined {
  const bad = internalRequestError('Watch', b);
  if (bad) return bad;
  const slot = Array.from({ length: config.guardians }, (_, i) => i).find((i) => guardianId(machine, i) === b.from);
  if (slot === undefined) return undefined;
  return isGuardianOf(b.pid, machine, slot) ? { slot, pid: b.pid } : `pid ${b.pid} is not ${b.from} on this machine`;
}

/** One guardian's Watch stream: its hello is answered with `hello`'s beat; `broken` once, when it ends. */
function serveGuardianStream(
  call: grpc.ServerDuplexStream<Beat__Output, Beat>,
  config: ClusterConfig,
  machine: string,
  log: Logger,
  on: { hello(g: { slot: number; pid: number }): Beat; broken(g: { slot: number; pid: number } | undefined): void },
): void {
  let guardian: { slot: number; pid: number } | undefined;
  let ended = false;
  const done = (): void => {
    if (ended) return;
    ended = true;
    on.broken(guardian);
  };
  call.on('data', (b: Beat__Output) => {
    const g = guardianOf(b, config, machine);
    if (typeof g === 'string') {
      log.warn('refused a beat', { reason: g });
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: g });
      return;
    }
    if (!g) return;
    guardian = g;
    call.write(on.hello(g));
  });
  call.on('end', () => {
    done();
    call.end();
  });
  call.on('error', done);
  call.on('cancelled', done);
}

/** The primary's answer telling its guardians that the machine is stopping: they exit. */
const STOPPING = { from: '', pid: 0, term: 0 };
