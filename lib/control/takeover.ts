/**
 * A primary process's way into charge of its machine, and out of it: the term
 * comparison, the fencing of a stale primary, standing by while a healthy one
 * runs, and stepping down for a successor.
 *
 * A start reads the machine's primary record. If the recorded primary still runs
 * (its pid lives as a server of this machine), it gets `fenceSilenceMs` to show
 * life (answer its admin port as itself, or touch its beat file): one that does
 * runs, however slowly, and we stand by; one that does not may be paused, so it is
 * killed (fenced) before we go on. Then we bind the machine's admin port (one
 * process at a time: a second start stands by), take the primary lock and write
 * the record with a term above every term before ours (the record's, and the
 * electing guardian's). A primary in charge steps down the moment the record
 * names a newer term, or its own term with another pid, or its lock is taken.
 * Standing by, we ask the running primary every `standByEveryMs`, and at once when
 * our connection to it breaks (a killed primary's sockets close as it dies); once it
 * neither answers nor runs, we start again from the record. After such a break we
 * ask again every tick until it answers or is gone (its pid outlives its sockets a
 * moment): a warm standby takes over within a few ticks of the kill. A standby of a
 * machine that keeps one (`warm`) forks its workers ahead once it has stood by for
 * `standby.warmAfterMs`.
 *
 * Pure: no I/O, no timers. Fed `(input, now)` from one monotonic clock; returns
 * actions for the shell (lib/supervision/primary-process.ts) to perform and report
 * back as inputs.
 */
import { StandingBy, type StandingByAction } from './standing-by';
import type { Supervisor, Tick } from './supervisor';
import type { TimingPolicy } from './timing-policy';

/** What a primary record says (data/<machine>/primary.json); pid 0: the machine was stopped cleanly. */
export interface RecordView {
  pid: number;
  term: number;
  restarts: number;
}

/** The machine as a start finds it: the record, and whether its pid still runs as a server of the machine (not us). */
export interface Found {
  record: RecordView | null;
  recordedRuns: boolean;
}

export type TakeoverInput =
  | ({ kind: 'start' } & Found)
  /** The recorded primary touched its beat file. */
  | { kind: 'lifeSign' }
  /** The machine's admin port answered a probe as process `pid` (life only if that is the recorded primary). */
  | { kind: 'probeAnswer'; pid: number }
  /** The recorded primary is gone (it died while we probed, or we fenced it). */
  | { kind: 'recordedGone' }
  /** Binding the admin port; `record` as read once it was bound (no other start can charge meanwhile). */
  | { kind: 'bound'; ok: boolean; detail: string; record: RecordView | null }
  | { kind: 'charged' }
  /** The lock or the record could not be written for lack of space. */
  | { kind: 'chargeFailed'; detail: string }
  | { kind: 'recordChanged'; record: RecordView | null }
  | { kind: 'lockCompromised'; detail: string }
  /** The standing-by start's question: did the running primary answer, and how the machine is now. */
  | ({ kind: 'answered'; alive: boolean } & Found)
  /** Standing by: our connection to the running primary broke (it may have died). */
  | { kind: 'runningLost' }
  /** A clean stop begins: nothing steps down or starts any more. */
  | { kind: 'stopping' }
  | Tick;

export type TakeoverAction =
  /** Watch the recorded primary `pid`: report who answers the admin port within `timeoutMs` (`probeAnswer`), a touch of its beat file (`lifeSign`) and its death. */
  | { probe: { pid: number; timeoutMs: number } }
  /** Kill the process group of `pid`, then report `recordedGone` once it is dead. */
  | { fence: { pid: number; silentMs: number } }
  | { bind: { term: number } }
  /** We hold the admin port: keep the machine's guardians (they watch us from now on). */
  | { keepGuardians: { term: number } }
  /** Take the primary lock and write the record. */
  | { takeCharge: { term: number; restarts: number } }
  /** The lock and record are ours: run the machine. */
  | { inCharge: { term: number; restarts: number; previousPid: number | null; died: boolean } }
  /** The data dir refuses writes: serve status and try again (logged once). */
  | { waitForSpace: { detail: string } }
  | { standBy: { reason: string } }
  | { stepDown: { reason: string } }
  /** The machine was stopped cleanly meanwhile: this start ends. */
  | { stopped: { reason: string } }
  /** Standing by: `ask` the running primary whether it lives (admin heartbeat), then report `answered`; `warmUp`: a warm standby forks its workers ahead (once). */
  | StandingByAction;

export type TakeoverPhase = 'new' | 'probing' | 'fencing' | 'binding' | 'charging' | 'in-charge' | 'standing-by' | 'done';

export interface TakeoverOptions {
  /** This process's pid. */
  pid: number;
  /** The term the electing guardian chose (FBS_TERM); absent for a start by hand or by systemd. */
  revivalTerm?: number;
  /** The machine keeps a warm standby: standing by, fork the workers ahead. */
  warm?: boolean;
  timing: Pick<TimingPolicy, 'fenceSilenceMs' | 'fenceKillWaitMs' | 'diskRetryMs' | 'standByEveryMs' | 'standByAnswerMs' | 'standby'>;
}

/** The term the electing guardian passed in FBS_TERM: undefined when absent, 0 when unreadable (any term above the record's will do). */
export function revivalTermOf(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value) || 0;
}

/**
 * Our claim on the machine over its record: a term above the record's and the
 * electing guardian's; the recorded primary, which died if it did not stop cleanly,
 * and then counts as a restart.
 */
export interface Claim {
  term: number;
  restarts: number;
  previousPid: number | null;
  died: boolean;
}

export function claimOver(record: RecordView | null, revivalTerm: number | undefined): Claim {
  const died = !!record && record.pid !== 0;
  return { term: Math.max(record?.term ?? 0, revivalTerm ?? 0) + 1, restarts: (record?.restarts ?? 0) + (died ? 1 : 0), previousPid: record?.pid ?? null, died };
}

/** Why a primary in charge of `term` as `pid` must step down for the record, if it must. */
export function supersededBy(record: RecordView | null, term: number, pid: number): string | null {
  const newer = !!record && (record.term > term || (record.term === term && record.pid !== pid));
  return newer ? `a newer primary holds term ${record!.term} (pid ${record!.pid})` : null;
}

const CLEAN_STOP: TakeoverAction = { stopped: { reason: 'the machine was stopped cleanly' } };

export class Takeover implements Supervisor<TakeoverInput, TakeoverAction> {
  private state: TakeoverPhase = 'new';
  private claim: Claim = { term: 0, restarts: 0, previousPid: null, died: false };
  /** When the current phase's wait ends (probe, fence, disk retry). */
  private deadline = Infinity;
  private readonly standing: StandingBy;
  private spaceLogged = false;

  constructor(private readonly options: TakeoverOptions) {
    this.standing = new StandingBy(options);
  }

  get phase(): TakeoverPhase {
    return this.state;
  }

  /** Our term once a start has computed it (0 before). */
  get term(): number {
    return this.claim.term;
  }

  step(input: TakeoverInput, now: number): TakeoverAction[] {
    switch (input.kind) {
      case 'start':
        return this.start(input, now);
      case 'lifeSign':
        return this.state === 'probing' ? this.standBy(`the recorded primary (pid ${this.claim.previousPid}) shows life`, now) : [];
      case 'probeAnswer':
        return input.pid === this.claim.previousPid ? this.step({ kind: 'lifeSign' }, now) : [];
      case 'recordedGone':
        return this.state === 'probing' || this.state === 'fencing' ? this.bind() : [];
      case 'bound':
        return this.state === 'binding' ? this.bound(input, now) : [];
      case 'charged':
        if (this.state !== 'charging') return [];
        this.state = 'in-charge';
        this.deadline = Infinity;
        return [{ inCharge: { ...this.claim } }];
      case 'chargeFailed':
        if (this.state !== 'charging') return [];
        this.deadline = now + this.options.timing.diskRetryMs;
        if (this.spaceLogged) return [];
        this.spaceLogged = true;
        return [{ waitForSpace: { detail: input.detail } }];
      case 'recordChanged': {
        const why = this.state === 'in-charge' ? supersededBy(input.record, this.claim.term, this.options.pid) : null;
        return why ? this.end({ stepDown: { reason: why } }) : [];
      }
      case 'lockCompromised':
        return this.state === 'in-charge' || this.state === 'charging' ? this.end({ stepDown: { reason: `primary lock compromised: ${input.detail}` } }) : [];
      case 'answered':
        if (this.state !== 'standing-by' || !this.standing.answered(input.alive, now)) return [];
        if (input.record?.pid === 0) return this.end(CLEAN_STOP);
        // A primary that runs without answering (paused, say) is its guardians' to judge.
        return !input.record || !input.recordedRuns ? this.start(input, now) : [];
      case 'runningLost':
        return this.state === 'standing-by' ? this.standing.runningLost(now) : [];
      case 'stopping':
        this.state = 'done';
        return [];
      case 'tick':
        return this.tick(now);
    }
  }

  private start({ record, recordedRuns }: Found, now: number): TakeoverAction[] {
    this.claim = claimOver(record, this.options.revivalTerm);
    if (!record || !recordedRuns || record.pid === this.options.pid) return this.bind();
    this.state = 'probing';
    this.deadline = now + this.options.timing.fenceSilenceMs;
    return [{ probe: { pid: record.pid, timeoutMs: this.options.timing.fenceSilenceMs } }];
  }

  private bind(): TakeoverAction[] {
    this.state = 'binding';
    this.deadline = Infinity;
    return [{ bind: { term: this.claim.term } }];
  }

  private bound(input: Extract<TakeoverInput, { kind: 'bound' }>, now: number): TakeoverAction[] {
    if (!input.ok) return this.standBy(input.detail, now);
    // A guardian's revival that lost the race with a clean stop (the stopping primary marks
    // the record before it frees the port we now hold) must not bring the machine back.
    if (this.options.revivalTerm !== undefined && input.record?.pid === 0) return this.end(CLEAN_STOP);
    // A primary that charged and died between our read and our bind has raised the record.
    this.claim = claimOver(input.record, this.options.revivalTerm);
    this.state = 'charging';
    return [{ keepGuardians: { term: this.claim.term } }, { takeCharge: { term: this.claim.term, restarts: this.claim.restarts } }];
  }

  /** The last action of this start: it steps down, or finds the machine stopped. */
  private end(last: TakeoverAction): TakeoverAction[] {
    this.state = 'done';
    return [last];
  }

  private standBy(reason: string, now: number): TakeoverAction[] {
    this.state = 'standing-by';
    this.deadline = Infinity;
    this.standing.enter(now);
    return [{ standBy: { reason } }];
  }

  private tick(now: number): TakeoverAction[] {
    if (this.state === 'standing-by') return this.standing.tick(now);
    if (now < this.deadline) return [];
    switch (this.state) {
      case 'probing':
        this.state = 'fencing';
        this.deadline = now + this.options.timing.fenceKillWaitMs;
        return [{ fence: { pid: this.claim.previousPid!, silentMs: this.options.timing.fenceSilenceMs } }];
      case 'fencing':
        return this.bind(); // not seen dead in time: the port decides
      case 'charging':
        this.deadline = Infinity;
        return [{ takeCharge: { term: this.claim.term, restarts: this.claim.restarts } }];
      default:
        return [];
    }
  }
}
