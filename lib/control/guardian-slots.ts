/**
 * A primary's decisions about its guardian slots: when a slot's guardian is
 * suspect or dead, and when to spawn a new one. A slot is heard when its guardian's
 * beat file changes, or once when a new guardian process (checked on this machine:
 * a live guardian of that slot) says hello on its Watch stream. It gets a new
 * guardian when no guardian shows up soon after we start (one alive from before
 * reconnects within a beat or two), when it has been silent past the failure
 * detector's limit, when its spawned guardian did not beat within the spawn grace,
 * or at once when its guardian's stream broke and its pid is dead. A silent guardian
 * still holds its slot's port (a hung one, say SIGSTOPped), so the spawn names it:
 * the primary kills it first if it is its own child (one it did not spawn it cannot
 * signal, and the newcomer then exits: the slot stays with the hung one).
 *
 * Pure: no I/O, no timers. Fed `(input, now)` from one monotonic clock through
 * step(); returns the spawns to perform (and pids to check), and is told each
 * spawn's pid.
 */
import { FailureDetector, type FailureDetectorOptions } from './failure-detector';
import type { Supervisor, Tick } from './supervisor';
import type { TimingPolicy } from './timing-policy';

export type SlotInput =
  /** The slot's beat file changed. */
  | { kind: 'beaten'; slot: number }
  /** A guardian of `slot` said hello on its Watch stream as `pid`, checked to be a live guardian of that slot here. */
  | { kind: 'hello'; slot: number; pid: number }
  /** The Watch stream of the slot's guardian `pid` broke. */
  | { kind: 'streamBroken'; slot: number; pid: number }
  /** The slot's guardian `pid` was seen dead (after its stream broke). */
  | { kind: 'exited'; slot: number; pid: number }
  /** We spawned the slot's new guardian as `pid`. */
  | { kind: 'spawned'; slot: number; pid: number }
  /** The primary stops: no slot gets a guardian any more, and the guardians are told to exit. */
  | { kind: 'stopping' }
  /** Every primary heartbeat. */
  | Tick;

type SpawnWhy = 'none showed up' | 'silent' | 'exited';

/**
 * Spawn the slot's guardian; `replacing`: the pid last known there (0: none), to kill first if it is our own child;
 * `restart`: the slot had a guardian before, so this counts as its restart.
 */
export type GuardianSpawn = { slot: number; why: SpawnWhy; replacing: number; restart: boolean };

export type SlotAction =
  | { spawn: GuardianSpawn }
  /** Feed `exited` if `pid` is seen dead within `withinMs`. */
  | { checkExit: { slot: number; pid: number; withinMs: number } };

export interface SlotView {
  slot: number;
  pid: number;
  restarts: number;
  /** ms since it was last heard; -1 before it ever was. */
  heartbeatAgeMs: number;
  state: 'up' | 'dead' | 'starting';
}

export interface GuardianSlotsOptions {
  slots: number;
  /** Guardians' beats: `heartbeatMs` is how often they beat, `deadAfterMs` when a silent one is replaced. */
  detector: Omit<FailureDetectorOptions, 'startupGraceMs'>;
  /** How long after our start a slot may stay empty before we spawn its guardian. */
  firstConnectMs: number;
  /** How long a guardian we spawned may take to beat before it is spawned again. */
  spawnGraceMs: number;
  /** How long after its stream broke a guardian's pid may take to be seen dead. */
  exitGraceMs: number;
}

interface Slot {
  pid: number;
  /** The pid that last said hello on a Watch stream. */
  hello: number;
  restarts: number;
  /** When it was last heard (-1: never), and when we last spawned it (-1: never). */
  lastHeard: number;
  spawnedAt: number;
}

/** The slots' limits, from the timing policy: guardians beat slowly (they are seen dead by their stream), the primary fast. */
export function guardianSlotsOptions(slots: number, policy: TimingPolicy): GuardianSlotsOptions {
  return { slots, detector: policy.guardianSilence, firstConnectMs: policy.guardianFirstConnectMs, spawnGraceMs: policy.guardianSpawnGraceMs, exitGraceMs: policy.exitGraceMs };
}

export class GuardianSlots implements Supervisor<SlotInput, SlotAction> {
  private readonly detector: FailureDetector;
  private readonly slots: Slot[];
  private readonly startedAt: number;
  private stopped = false;

  constructor(private readonly options: GuardianSlotsOptions, now: number) {
    this.detector = new FailureDetector({ ...options.detector, startupGraceMs: 0 });
    this.slots = Array.from({ length: options.slots }, () => ({ pid: 0, hello: 0, restarts: 0, lastHeard: -1, spawnedAt: -1 }));
    this.startedAt = now;
  }

  /** Whether the primary is stopping: its guardians are told so, and nothing is spawned. */
  get stopping(): boolean {
    return this.stopped;
  }

  step(input: SlotInput, now: number): SlotAction[] {
    if (this.stopped) return [];
    switch (input.kind) {
      case 'beaten':
        this.beaten(input.slot, now);
        return [];
      case 'hello':
        this.connected(input.slot, input.pid, now);
        return [];
      case 'streamBroken':
        // Same machine: a broken stream from a guardian whose pid is dead needs no timeout,
        // if it was still the slot's guardian and no replacement is on its way.
        return this.isCurrent(input.slot, input.pid) ? [{ checkExit: { slot: input.slot, pid: input.pid, withinMs: this.options.exitGraceMs } }] : [];
      case 'exited':
        return this.exited(input.slot, input.pid, now);
      case 'spawned': {
        const s = this.slots[input.slot];
        if (s) s.pid = input.pid; // status shows the newcomer, starting, not the dead one
        return [];
      }
      case 'stopping':
        this.stopped = true;
        return [];
      case 'tick':
        return this.tick(now);
    }
  }

  private beaten(slot: number, now: number): void {
    const s = this.slots[slot];
    if (!s) return;
    s.lastHeard = now;
    this.detector.heartbeat(String(slot), now);
  }

  /** A new pid counts as heard; the same pid again does not (only its beat file says a guardian still runs). */
  private connected(slot: number, pid: number, now: number): void {
    const s = this.slots[slot];
    if (!s || s.hello === pid) return;
    s.hello = pid;
    s.pid = pid;
    this.beaten(slot, now);
  }

  /** Whether `pid` is the slot's guardian as last heard, with no replacement spawned since. */
  private isCurrent(slot: number, pid: number): boolean {
    const s = this.slots[slot];
    return !!s && s.pid === pid && s.spawnedAt <= s.lastHeard;
  }

  private exited(slot: number, pid: number, now: number): SlotAction[] {
    if (!this.isCurrent(slot, pid)) return [];
    this.detector.markDead(String(slot));
    return [this.spawn(slot, 'exited', now)];
  }

  private tick(now: number): SlotAction[] {
    const out: SlotAction[] = [];
    this.slots.forEach((s, slot) => {
      const known = s.lastHeard >= 0 || s.spawnedAt >= 0;
      if (!known && now - this.startedAt > this.options.firstConnectMs) out.push(this.spawn(slot, 'none showed up', now));
      else if (known && this.isDead(slot, now)) out.push(this.spawn(slot, 'silent', now));
    });
    return out;
  }

  view(now: number): SlotView[] {
    return this.slots.map((s, slot) => {
      const age = s.lastHeard >= 0 ? Math.round(now - s.lastHeard) : -1;
      const starting = s.lastHeard < 0 || s.lastHeard < s.spawnedAt;
      const dead = this.isDead(slot, now);
      return { slot, pid: s.pid, restarts: s.restarts, heartbeatAgeMs: age, state: starting ? 'starting' : dead ? 'dead' : 'up' };
    });
  }

  /** A guardian we spawned and have not heard yet has the spawn grace (which may be shorter than the failure timeout); a heard one, the detector's limit. */
  private isDead(slot: number, now: number): boolean {
    const s = this.slots[slot];
    if (s.spawnedAt > s.lastHeard) return now - s.spawnedAt >= this.options.spawnGraceMs;
    return this.detector.status(String(slot), now) === 'dead';
  }

  private spawn(slot: number, why: SpawnWhy, now: number): SlotAction {
    const s = this.slots[slot];
    const restart = s.spawnedAt >= 0 || s.lastHeard >= 0;
    if (restart) s.restarts++;
    s.spawnedAt = now;
    this.detector.add(String(slot), now);
    return { spawn: { slot, why, replacing: s.pid, restart } };
  }
}
