/**
 * The nemesis: what to break and when. `planFaults` is pure — a seed and a time
 * window give the same schedule every time — and the Nemesis executes a plan
 * against the live cluster, undoing each lasting fault after its duration and
 * every one still in force when told to heal.
 */
import type { FaultEvent, FaultKind } from './history';
import type { ServerProcess, ServerRole } from '../common/processes';
import { signalPids } from '../common/processes';
import { rng } from './rng';

/** Clock offsets a machine can be restarted under (faketime -f syntax; '0' is the true clock). */
export type ClockOffset = '0' | '-3h' | '+10m';
export const CLOCK_OFFSETS: readonly ClockOffset[] = ['0', '-3h', '+10m'];

export interface PlannedFault {
  /** ms after the workload began. */
  at: number;
  kind: FaultKind;
  machine: string;
  /** kill, pause: the role to hit, and which of its processes (a fraction of the live ones, by pid). */
  role?: ServerRole;
  pick?: number;
  /** pause, machine-down, link-down, power: how long until it is undone (power: until the machine boots). */
  durationMs?: number;
  /** clock: the offset the machine is restarted under. */
  clock?: ClockOffset;
}

export interface PlanOptions {
  machines: string[];
  /** The master machine: never shut down whole (the replica machines are). */
  master: string;
  windowMs: number;
  linkFaults: boolean;
  clockFaults: boolean;
  /** Power cuts: the machines' data dirs are power-loss disks (lib/chaos/lazy-mount). */
  powerFaults: boolean;
}

const FIRST_FAULT_MS = 1_000;
const GAP_MS: [number, number] = [1_500, 4_500];
const KIND_WEIGHTS: Record<FaultKind, number> = { kill: 3, pause: 1.5, 'machine-down': 1.5, 'link-down': 2, clock: 1.5, power: 1.5 };
const ROLE_WEIGHTS: Record<ServerRole, number> = { worker: 3, replicator: 2, primary: 2, guardian: 1.5, standby: 0.5 };
const DURATION_MS: Record<LastingFault, [number, number]> = {
  pause: [500, 4_000],
  'machine-down': [3_000, 10_000],
  'link-down': [2_000, 10_000],
  power: [3_000, 10_000],
};
/** A clock change restarts the machine: give it this long before the next machine-wide fault. */
const CLOCK_RESTART_MS = 4_000;
type LastingFault = 'pause' | 'machine-down' | 'link-down' | 'power';
const LASTING: readonly FaultKind[] = ['pause', 'machine-down', 'link-down', 'power'];
/** Faults that take a whole machine away; one at a time. */
const MACHINE_WIDE: readonly FaultKind[] = ['machine-down', 'link-down', 'clock', 'power'];
/** Faults that switch a machine off (never the master machine: the replica machines are). */
const SWITCH_OFF: readonly FaultKind[] = ['machine-down', 'power'];

export function planFaults(seed: number, opts: PlanOptions): PlannedFault[] {
  const random = rng(seed);
  const between = ([lo, hi]: [number, number]): number => Math.round(lo + random() * (hi - lo));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const weighted = <K extends string>(w: Record<K, number>, allowed: readonly K[]): K => {
    const total = allowed.reduce((n, k) => n + w[k], 0);
    let x = random() * total;
    for (const k of allowed) if ((x -= w[k]) < 0) return k;
    return allowed[allowed.length - 1];
  };
  const kinds = (Object.keys(KIND_WEIGHTS) as FaultKind[]).filter(
    (k) => (k !== 'link-down' || opts.linkFaults) && (k !== 'clock' || opts.clockFaults) && (k !== 'power' || opts.powerFaults),
  );
  const replicaMachines = opts.machines.filter((m) => m !== opts.master);
  const clocks = new Map(opts.machines.map((m) => [m, '0' as ClockOffset]));
  const plan: PlannedFault[] = [];
  let machineBusyUntil = 0;
  let down: { machine: string; until: number } | null = null;

  for (let at = FIRST_FAULT_MS; at < opts.windowMs; at += between(GAP_MS)) {
    const wideAllowed = at >= machineBusyUntil;
    let kind = weighted(KIND_WEIGHTS, wideAllowed ? kinds : kinds.filter((k) => !MACHINE_WIDE.includes(k)));
    if (SWITCH_OFF.includes(kind) && replicaMachines.length === 0) kind = 'kill';
    const up = opts.machines.filter((m) => !(down && down.machine === m && at < down.until));
    const fault: PlannedFault = { at, kind, machine: SWITCH_OFF.includes(kind) ? pick(replicaMachines) : pick(up) };
    if (kind === 'kill' || kind === 'pause') {
      fault.role = weighted(ROLE_WEIGHTS, Object.keys(ROLE_WEIGHTS) as ServerRole[]);
      fault.pick = random();
    }
    if (LASTING.includes(kind)) fault.durationMs = between(DURATION_MS[kind as LastingFault]);
    if (kind === 'clock') {
      fault.clock = pick(CLOCK_OFFSETS.filter((c) => c !== clocks.get(fault.machine)));
      clocks.set(fault.machine, fault.clock);
    }
    if (MACHINE_WIDE.includes(kind)) machineBusyUntil = at + (fault.durationMs ?? CLOCK_RESTART_MS);
    if (SWITCH_OFF.includes(kind)) down = { machine: fault.machine, until: at + (fault.durationMs as number) };
    plan.push(fault);
  }
  return plan;
}

/** What the nemesis acts on: the live cluster. */
export interface NemesisTarget {
  processes(machine: string): ServerProcess[];
  /** SIGKILL every process of the machine and keep it down. */
  powerOff(machine: string): Promise<void>;
  /** Start the machine again with its startup script. */
  powerOn(machine: string): void;
  /**
   * Cut the machine's power: its disk drops what was not synced, every process dies,
   * and the disk comes back as after a reboot; the machine stays off (powerOn boots it).
   * Says what the cut dropped.
   */
  powerCut(machine: string): Promise<string>;
  /** Power cut, then the startup script again under this clock offset. */
  restartWithClock(machine: string, clock: ClockOffset): Promise<void>;
  linkDown(machine: string): void;
  linkUp(machine: string): void;
}

export class Nemesis {
  readonly faults: FaultEvent[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly heals = new Map<FaultEvent, () => void>();
  /** Faults and heals run one at a time, in order. */
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly plan: PlannedFault[],
    private readonly target: NemesisTarget,
    /** ms since the workload began. */
    private readonly now: () => number,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    for (const f of this.plan) this.after(f.at - this.now(), () => this.inject(f));
  }

  /** Stops injecting and undoes every fault still in force. */
  async healAll(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.queue;
    for (const ev of [...this.heals.keys()]) this.heal(ev);
  }

  private after(ms: number, fn: () => Promise<void> | void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.queue = this.queue.then(fn).catch((err: unknown) => this.log(`nemesis: ${(err as Error).message}`));
    }, Math.max(0, ms));
    this.timers.add(timer);
  }

  private async inject(f: PlannedFault): Promise<void> {
    if (this.stopped) return;
    const ev: FaultEvent = { kind: f.kind, machine: f.machine, at: this.now(), healedAt: null, target: '' };
    let heal: (() => void) | null = null;
    switch (f.kind) {
      case 'kill':
      case 'pause': {
        const victim = this.victim(f);
        if (!victim) {
          ev.target = 'no live process';
          break;
        }
        signalPids([victim.pid], f.kind === 'kill' ? 'SIGKILL' : 'SIGSTOP');
        ev.target = `${victim.role} pid ${victim.pid}`;
        if (f.kind === 'pause') heal = () => signalPids([victim.pid], 'SIGCONT');
        break;
      }
      case 'machine-down':
        await this.target.powerOff(f.machine);
        ev.target = 'every process';
        heal = () => this.target.powerOn(f.machine);
        break;
      case 'power':
        ev.target = await this.target.powerCut(f.machine);
        heal = () => this.target.powerOn(f.machine);
        break;
      case 'link-down':
        this.target.linkDown(f.machine);
        ev.target = 'network link';
        heal = () => this.target.linkUp(f.machine);
        break;
      case 'clock':
        await this.target.restartWithClock(f.machine, f.clock as ClockOffset);
        ev.target = `clock ${f.clock === '0' ? 'true' : f.clock}`;
        break;
    }
    this.faults.push(ev);
    this.log(`${(ev.at / 1000).toFixed(1).padStart(6)} s  ${f.kind.padEnd(12)} ${f.machine}  ${ev.target}${f.durationMs && heal ? ` for ${(f.durationMs / 1000).toFixed(1)} s` : ''}`);
    if (heal) {
      this.heals.set(ev, heal);
      this.after(f.durationMs ?? 0, () => this.heal(ev));
    }
  }

  private heal(ev: FaultEvent): void {
    const undo = this.heals.get(ev);
    if (!undo) return;
    this.heals.delete(ev);
    undo();
    ev.healedAt = this.now();
  }

  /** The planned role's live processes by pid, the planned fraction into them; any process of the machine if none. */
  private victim(f: PlannedFault): ServerProcess | null {
    const all = this.target.processes(f.machine).sort((a, b) => a.pid - b.pid);
    const ofRole = all.filter((p) => p.role === f.role);
    const from = ofRole.length > 0 ? ofRole : all;
    return from.length === 0 ? null : from[Math.floor((f.pick ?? 0) * from.length)];
  }
}
