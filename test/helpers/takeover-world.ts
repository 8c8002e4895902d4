/**
 * One machine, simulated for the takeover's state machines: primary processes
 * running Takeover (lib/control/takeover.ts) and guardians running Reviver with
 * PrimaryVerdict, over a fake clock. The world stands in for what the shells do:
 * the primary record, the admin port (one holder at a time, freed when it dies),
 * the primary lock, the beat file, Watch streams (broken when the primary dies),
 * ring messages (through SimNetwork: delay, loss, duplicates, false failures),
 * spawns that take a while, SIGKILL and SIGSTOP. A paused process keeps its port,
 * its streams and its lock; what happens to it meanwhile waits until it runs again.
 * Every random choice comes from the seed, so a failing run replays exactly.
 */
import type { RingMsg } from '../../lib/control/election';
import { Reviver, type GuardianAction, type GuardianInput } from '../../lib/control/reviver';
import { Takeover, type Found, type RecordView, type TakeoverAction, type TakeoverInput } from '../../lib/control/takeover';
import { timingPolicy, type TimingPolicy } from '../../lib/control/timing-policy';
import { SimNetwork, type SimFaults } from './sim-network';

export const POLICY: TimingPolicy = timingPolicy({ heartbeatMs: 200, suspectAfterMs: 600, deadAfterMs: 1000, electionTimeoutMs: 1000, startupGraceMs: 1500 });
/** A spawned primary runs its first line after this long at most (fork and module load). */
export const MAX_SPAWN_MS = 400;
/** Local I/O (a bind, a record write, a stream's news) takes at most this long. */
const MAX_IO_MS = 20;

interface Proc {
  pid: number;
  alive: boolean;
  paused: boolean;
  /** What reached it while it was paused, in order. */
  inbox: (() => void)[];
}

interface PrimaryProc extends Proc {
  kind: 'primary';
  takeover: Takeover;
  /** It holds the port and runs its keeper: it beats and keeps the guardians. */
  keeping: boolean;
  acting: boolean;
  /** The stale primary it probes or fences. */
  probing: number;
  probeBeat: number;
}

interface GuardianProc extends Proc {
  kind: 'guardian';
  slot: number;
  id: string;
  reviver: Reviver;
  /** The primary its Watch stream is open to (0: none). */
  watching: number;
  seenBeat: number;
}

export interface WorldReport {
  violations: string[];
  /** Probes the admin port's holder answered: as the recorded primary, or as another (a newer start holding the port). */
  probeAnswers: { recorded: number; other: number };
  /** When a primary began to act: took charge, or ran again after a pause. */
  actingFrom: number[];
  takeovers: number;
  fences: number;
  standbys: number;
  stepDowns: number;
}

export class TakeoverWorld {
  readonly net: SimNetwork<RingMsg>;
  readonly report: WorldReport = { violations: [], probeAnswers: { recorded: 0, other: 0 }, actingFrom: [], takeovers: 0, fences: 0, standbys: 0, stepDowns: 0 };
  record: RecordView | null = null;
  private port = 0;
  private lock = 0;
  private beatAt = -1;
  private nextPid = 100;
  private readonly procs = new Map<number, PrimaryProc | GuardianProc>();
  private readonly guardianPids: number[];
  private readonly members: string[];
  private readonly termTakenBy = new Map<number, number>();
  private readonly spawning = new Set<number>();
  private standbySpawning = false;

  /** `standby`: the primary in charge keeps a warm standby (lib/control/standby-slot.ts), which takes over the moment its link to the primary breaks. */
  constructor(seed: number, readonly guardians: number, faults: Partial<SimFaults>, private readonly standby = false) {
    this.net = new SimNetwork<RingMsg>(
      { seed, faults, minDelayMs: 1, maxDelayMs: MAX_IO_MS, failAfterMs: POLICY.ringSendMs },
      { deliver: (to, msg, from) => this.deliverRing(from, to, msg), failed: (from, to, msg) => this.ringFailed(from, to, msg) },
    );
    this.members = Array.from({ length: guardians }, (_, i) => `g${i}`);
    this.guardianPids = this.members.map(() => 0);
  }

  get random(): () => number {
    return this.net.random;
  }

  /** A primary started by hand or by systemd (no revival term), or by a guardian (with one). */
  startPrimary(revivalTerm?: number): number {
    const pid = this.nextPid++;
    const p: PrimaryProc = {
      kind: 'primary', pid, alive: true, paused: false, inbox: [], keeping: false, acting: false, probing: 0, probeBeat: -1,
      takeover: new Takeover({ pid, revivalTerm, warm: this.standby, timing: POLICY }),
    };
    this.standbySpawning = false;
    this.procs.set(p.pid, p);
    this.feedPrimary(p, { kind: 'start', ...this.found(p.pid) });
    this.every(p, POLICY.fenceLookEveryMs, () => this.primaryTick(p));
    this.every(p, POLICY.heartbeatMs, () => {
      if (p.keeping) this.keep();
    });
    return p.pid;
  }

  startGuardian(slot: number): void {
    const id = this.members[slot];
    const { heartbeatMs, suspectAfterMs, deadAfterMs, electionTimeoutMs, startupGraceMs } = POLICY;
    const g: GuardianProc = {
      kind: 'guardian', pid: this.nextPid++, alive: true, paused: false, inbox: [], slot, id, watching: 0, seenBeat: this.beatAt,
      reviver: new Reviver(
        {
          self: id, members: this.members, detector: { heartbeatMs, suspectAfterMs, deadAfterMs, startupGraceMs }, electionTimeoutMs,
          reviveGraceMs: POLICY.reviveGraceMs, initialTerm: this.record?.term ?? 0, exitGraceMs: POLICY.exitGraceMs,
          standbyTakeOverMs: this.standby ? POLICY.standby.takeOverMs : 0,
          beatFilesMs: POLICY.guardianBeatMs, decidedLogMs: POLICY.decidedLogMs,
        },
        this.net.now,
      ),
    };
    this.procs.set(g.pid, g);
    this.guardianPids[slot] = g.pid;
    this.spawning.delete(slot);
    this.feedGuardian(g, { kind: 'tick' });
    this.every(g, POLICY.heartbeatMs, () => {
      if (this.beatAt !== g.seenBeat) {
        g.seenBeat = this.beatAt;
        this.feedGuardian(g, { kind: 'beat' });
      }
      this.feedGuardian(g, { kind: 'tick' });
    });
  }

  /** The primary that acts now (in charge, alive, running), if any. */
  acting(): PrimaryProc[] {
    return [...this.procs.values()].filter((p): p is PrimaryProc => p.kind === 'primary' && p.acting && p.alive && !p.paused);
  }

  actingPid(): number {
    return [...this.procs.values()].find((p) => p.kind === 'primary' && p.acting && p.alive)?.pid ?? 0;
  }

  guardianPid(slot: number): number {
    return this.guardianPids[slot];
  }

  kill(pid: number): void {
    const p = this.procs.get(pid);
    if (!p?.alive) return;
    p.alive = false;
    p.inbox = [];
    if (p.kind === 'primary') p.acting = false;
    const heldPort = this.port === pid;
    if (heldPort) this.port = 0;
    // Its streams break: each guardian hears it a moment later, and so does each standby's link to it.
    for (const g of this.procs.values()) {
      if (g.kind === 'guardian' && g.watching === pid) {
        g.watching = 0;
        this.later(() => this.feedGuardian(g, { kind: 'broken', recordPid: this.record?.pid ?? null, standby: this.standbys().length > 0 }));
      }
      if (heldPort && g.kind === 'primary' && g.alive && g.takeover.phase === 'standing-by') this.later(() => this.feedPrimary(g, { kind: 'runningLost' }));
    }
  }

  pause(pid: number, ms: number): void {
    const p = this.procs.get(pid);
    if (!p?.alive || p.paused) return;
    p.paused = true;
    this.net.at(this.net.now + ms, () => {
      if (!p.alive) return;
      p.paused = false;
      const inbox = p.inbox;
      p.inbox = [];
      for (const fn of inbox) if (p.alive && !p.paused) fn();
      if (p.kind === 'primary' && p.acting && p.alive) this.report.actingFrom.push(this.net.now);
      this.check();
    });
  }

  /** Live primaries standing by. */
  standbys(): PrimaryProc[] {
    return [...this.procs.values()].filter((p): p is PrimaryProc => p.kind === 'primary' && p.alive && p.takeover.phase === 'standing-by');
  }

  found(self: number): Found {
    const pid = this.record?.pid ?? 0;
    const p = this.procs.get(pid);
    return { record: this.record && { ...this.record }, recordedRuns: pid !== 0 && pid !== self && !!p?.alive && p.kind === 'primary' };
  }

  private later(fn: () => void, maxMs = MAX_IO_MS): void {
    this.net.at(this.net.now + 1 + Math.floor(this.random() * maxMs), fn);
  }

  /** A process's timer: it fires while the process lives; a paused one misses its beats (node fires a late interval once). */
  private every(p: Proc, ms: number, fn: () => void): void {
    const first = this.net.now + Math.floor(this.random() * ms);
    const run = (): void => {
      if (!p.alive) return;
      if (!p.paused) fn();
      this.net.at(this.net.now + ms, run);
    };
    this.net.at(first, run);
  }

  /** Runs `fn` in process `p`: now if it runs, once it runs again if paused, never if dead. */
  private inProc(p: Proc, fn: () => void): void {
    if (!p.alive) return;
    if (p.paused) p.inbox.push(fn);
    else fn();
  }

  private feedPrimary(p: PrimaryProc, input: TakeoverInput): void {
    this.inProc(p, () => {
      for (const a of p.takeover.step(input, this.net.now)) this.actPrimary(p, a);
      this.check();
    });
  }

  private feedGuardian(g: GuardianProc, input: GuardianInput): void {
    this.inProc(g, () => {
      for (const a of g.reviver.step(input, this.net.now)) this.actGuardian(g, a);
    });
  }

  private primaryTick(p: PrimaryProc): void {
    if (p.probing) {
      const target = this.procs.get(p.probing);
      if (!target?.alive) this.feedPrimary(p, { kind: 'recordedGone' });
      else if (this.beatAt !== p.probeBeat) this.feedPrimary(p, { kind: 'lifeSign' });
    }
    this.feedPrimary(p, { kind: 'tick' });
  }

  private actPrimary(p: PrimaryProc, a: TakeoverAction): void {
    if ('probe' in a) {
      p.probing = a.probe.pid;
      p.probeBeat = this.beatAt;
      this.probeAdmin(p, a.probe.pid, a.probe.timeoutMs);
    } else if ('fence' in a) {
      this.report.fences++;
      this.later(() => this.kill(a.fence.pid));
    } else if ('bind' in a) {
      p.probing = 0;
      this.later(() => this.bind(p));
    } else if ('keepGuardians' in a) p.keeping = true;
    else if ('takeCharge' in a) this.later(() => this.takeCharge(p, a.takeCharge.term, a.takeCharge.restarts));
    else if ('inCharge' in a) this.inCharge(p, a.inCharge.term);
    else if ('standBy' in a) {
      this.report.standbys++;
      p.probing = 0;
    } else if ('ask' in a) this.ask(p, a.ask.timeoutMs);
    else if ('stepDown' in a) {
      this.report.stepDowns++;
      this.kill(p.pid);
    } else if ('stopped' in a) this.kill(p.pid);
  }

  private bind(p: PrimaryProc): void {
    if (!p.alive) return;
    if (this.port !== 0) return this.feedPrimary(p, { kind: 'bound', ok: false, detail: `held by ${this.port}`, record: null });
    this.port = p.pid;
    this.feedPrimary(p, { kind: 'bound', ok: true, detail: '', record: this.record && { ...this.record } });
  }

  private takeCharge(p: PrimaryProc, term: number, restarts: number): void {
    if (!p.alive) return;
    const holder = this.procs.get(this.lock);
    if (holder?.kind === 'primary' && holder.alive && holder !== p) this.feedPrimary(holder, { kind: 'lockCompromised', detail: `taken by ${p.pid}` });
    this.lock = p.pid;
    this.record = { pid: p.pid, term, restarts };
    // Every other primary with a record watch (in charge) hears of it; a paused one when it runs.
    for (const other of this.procs.values()) {
      if (other.kind === 'primary' && other !== p && other.acting) this.feedPrimary(other, { kind: 'recordChanged', record: { ...this.record } });
    }
    this.feedPrimary(p, { kind: 'charged' });
  }

  private inCharge(p: PrimaryProc, term: number): void {
    const before = this.termTakenBy.get(term);
    const highest = Math.max(0, ...this.termTakenBy.keys());
    if (before !== undefined && before !== p.pid) this.report.violations.push(`t=${this.net.now}: term ${term} taken by ${before} and by ${p.pid}`);
    else if (term <= highest) this.report.violations.push(`t=${this.net.now}: ${p.pid} took term ${term}, not above term ${highest} taken before`);
    this.termTakenBy.set(term, p.pid);
    p.acting = true;
    this.report.takeovers++;
    this.report.actingFrom.push(this.net.now);
  }

  /** A standing-by start asks the port's holder; a paused one does not answer within the timeout, a free port refuses at once. */
  private ask(p: PrimaryProc, timeoutMs: number): void {
    const holder = this.procs.get(this.port);
    const answers = !!holder && holder.alive && !holder.paused;
    const refused = !holder?.alive;
    this.net.at(this.net.now + (answers || refused ? 1 + Math.floor(this.random() * MAX_IO_MS) : timeoutMs), () =>
      this.feedPrimary(p, { kind: 'answered', alive: answers, ...this.found(p.pid) }),
    );
  }

  /** A probe asks whoever holds the port when its call arrives: a running holder answers as itself; a paused or absent one not within the timeout. */
  private probeAdmin(p: PrimaryProc, recorded: number, timeoutMs: number): void {
    const delay = 1 + Math.floor(this.random() * MAX_IO_MS);
    if (delay >= timeoutMs) return;
    this.net.at(this.net.now + delay, () => {
      const holder = this.procs.get(this.port);
      if (!holder?.alive || holder.paused) return;
      this.report.probeAnswers[holder.pid === recorded ? 'recorded' : 'other']++;
      this.feedPrimary(p, { kind: 'probeAnswer', pid: holder.pid });
    });
  }

  /** The keeper's beat; a guardian slot without a live guardian gets one (GuardianSlots sees an exit at once), and the machine a standby. */
  private keep(): void {
    this.beatAt = this.net.now;
    if (this.standby && !this.standbySpawning && this.standbys().length === 0) {
      this.standbySpawning = true;
      this.later(() => this.startPrimary(), MAX_SPAWN_MS);
    }
    this.guardianPids.forEach((pid, slot) => {
      if (this.procs.get(pid)?.alive || this.spawning.has(slot)) return;
      this.spawning.add(slot);
      this.later(() => this.startGuardian(slot), MAX_SPAWN_MS);
    });
  }

  private actGuardian(g: GuardianProc, a: GuardianAction): void {
    if ('send' in a) this.net.send(g.id, a.send.to, a.send.msg);
    else if ('revive' in a) {
      const term = a.revive.term;
      this.later(() => this.startPrimary(term), MAX_SPAWN_MS);
    } else if ('openWatch' in a) this.later(() => this.openWatch(g));
    else if ('checkPid' in a) {
      const { pid, withinMs } = a.checkPid;
      const report = (): void => this.feedGuardian(g, { kind: 'pidChecked', pid, gone: !this.procs.get(pid)?.alive, recordPid: this.record?.pid ?? null });
      if (!this.procs.get(pid)?.alive) this.later(report);
      else this.net.at(this.net.now + withinMs, report);
    } else if ('exit' in a) this.kill(g.pid);
  }

  /** A Watch stream to the port's holder: it answers with its term once it runs; no holder, and the stream breaks. */
  private openWatch(g: GuardianProc): void {
    const holder = this.procs.get(this.port);
    if (!holder?.alive || holder.kind !== 'primary' || !holder.keeping) {
      return this.later(() => this.feedGuardian(g, { kind: 'broken', recordPid: this.record?.pid ?? null }));
    }
    g.watching = holder.pid;
    this.inProc(holder, () => this.later(() => g.watching === holder.pid && this.feedGuardian(g, { kind: 'answer', pid: holder.pid, term: holder.takeover.term })));
  }

  /** A dead guardian refuses the call; a paused one takes it when it runs, after the sender's call timed out. */
  private deliverRing(from: string, to: string, msg: RingMsg): void {
    const g = this.procs.get(this.guardianPids[this.members.indexOf(to)]);
    if (g?.kind !== 'guardian' || !g.alive) return this.later(() => this.ringFailed(from, to, msg));
    if (g.paused) this.net.at(this.net.now + POLICY.ringSendMs, () => this.ringFailed(from, to, msg));
    this.feedGuardian(g, { kind: 'ring', msg });
  }

  private ringFailed(from: string, to: string, msg: RingMsg): void {
    const g = this.procs.get(this.guardianPids[this.members.indexOf(from)]);
    if (g?.kind === 'guardian') this.feedGuardian(g, { kind: 'deliveryFailed', to, msg });
  }

  /** Two primaries never act at once. */
  private check(): void {
    const acting = this.acting();
    if (acting.length > 1) this.report.violations.push(`t=${this.net.now}: ${acting.map((p) => `${p.pid} (term ${p.takeover.term})`).join(' and ')} act at once`);
  }
}
