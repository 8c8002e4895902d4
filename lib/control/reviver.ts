/**
 * A guardian's decisions about its machine's primary: when the primary is dead,
 * when to hold a ring election among the guardians, and when to revive it.
 *
 * Trust: the ring's messages come from the network, and anyone holding the cluster
 * secret can forge them. So they only choose WHO revives first, never WHETHER the
 * primary is revived. The primary's death is judged by this guardian's own
 * observation alone (its beat file, its Watch stream and its pid, all on this
 * machine). A guardian that has itself seen the primary dead for
 * `reviveGraceMs + electionTimeoutMs * (1 + its rank)` revives it whatever the ring
 * says (staggered by rank, so the guardians rarely start two at once; a second start
 * is harmless anyway: the admin port, the lock and the term fence it). A leader
 * announcement therefore delays a revival by at most that much, and no message
 * moves the term further than the election's maxTermStep. How long the primary
 * has been dead is primary-silence.ts's clock; when this guardian may act again,
 * revival-pace.ts's.
 *
 * Pure: no I/O, no timers. Fed `(input, now)` from one monotonic clock through
 * step(); returns actions: send a ring message, revive the primary with a term,
 * note a decision, beat its own file, or the verdict's own (PrimaryVerdict: watch,
 * check a pid, exit).
 */
import { RingElection, type ElectionAction, type RingMsg } from './election';
import { OnceEvery } from '../core/once-every';
import type { FailureDetectorOptions } from './failure-detector';
import type { Supervisor } from './supervisor';
import { PrimaryVerdict, type VerdictAction, type VerdictInput } from './primary-verdict';
import { PrimarySilence } from './primary-silence';
import { RevivalPace } from './revival-pace';
import { ringOrder } from './ring-members';

export type ReviverAction =
  | { send: { to: string; msg: RingMsg } }
  /** Start a new primary with this term (idempotent on the primary's side: a second start stands by). */
  | { revive: { term: number; why: 'elected' | 'unrevived'; silentMs: number } }
  /** The primary is dead by our own observation: an election opens. */
  | { electing: { silentMs: number } }
  /** Who leads `term` (and is starting the primary): a note, at most once per decidedLogMs. */
  | { decided: { term: number; leaderId: string } }
  /** Beat our own beat file and look at our siblings' (every beatFilesMs). */
  | { beatFiles: Record<string, never> };

/** What a guardian hears: its own sight of the primary (PrimaryVerdict), the ring, its siblings' beats, and ticks. */
export type GuardianInput =
  | VerdictInput
  | { kind: 'ring'; msg: RingMsg }
  | { kind: 'deliveryFailed'; to: string; msg: RingMsg }
  | { kind: 'siblingAlive'; id: string };

export type GuardianAction = ReviverAction | Exclude<VerdictAction, { heard: unknown } | { died: unknown }>;

export interface ReviverOptions {
  self: string;
  /** Every guardian of the machine, self included. */
  members: readonly string[];
  detector: FailureDetectorOptions;
  electionTimeoutMs: number;
  /** How long a primary we (or the ring's leader) started may take to beat before we act again. */
  reviveGraceMs: number;
  /** The newest primary's term (its record); new terms start above it. */
  initialTerm: number;
  /** How long after its Watch stream broke the primary's pid may take to be seen dead. */
  exitGraceMs: number;
  /** How often the guardian beats its own file and looks at its siblings'. */
  beatFilesMs: number;
  /** At most one `decided` note this often (forged announcements must not flood the log). */
  decidedLogMs: number;
}

export class Reviver implements Supervisor<GuardianInput, GuardianAction> {
  readonly election: RingElection;
  readonly verdict: PrimaryVerdict;
  private readonly silence: PrimarySilence;
  private readonly pace: RevivalPace;
  private readonly beats: OnceEvery;
  private readonly decisions: OnceEvery;

  constructor(private readonly options: ReviverOptions, now: number) {
    this.election = new RingElection({
      self: options.self,
      members: options.members,
      electionTimeoutMs: options.electionTimeoutMs,
      initialTerm: options.initialTerm,
    });
    this.verdict = new PrimaryVerdict(options.exitGraceMs);
    this.silence = new PrimarySilence(options.detector, now);
    const rank = ringOrder(options.members).indexOf(options.self);
    this.pace = new RevivalPace(options.reviveGraceMs, options.reviveGraceMs + options.electionTimeoutMs * (1 + rank));
    this.beats = new OnceEvery(options.beatFilesMs);
    this.decisions = new OnceEvery(options.decidedLogMs);
  }

  /** The one way in: every input of a guardian, with the monotonic time. */
  step(input: GuardianInput, now: number): GuardianAction[] {
    switch (input.kind) {
      case 'ring': // from the network (untrusted: see the header)
        this.silence.look(now);
        return this.follow(this.election.step(input, now), now);
      case 'deliveryFailed':
        return this.follow(this.election.step(input, now), now);
      case 'siblingAlive': // its beat file changed: the ring routes through it again
        this.election.step({ kind: 'memberAlive', member: input.id, alive: true }, now);
        return [];
      case 'tick': {
        const beat: GuardianAction[] = this.beats.due(now) ? [{ beatFiles: {} }] : [];
        return [...beat, ...this.judge(this.verdict.step(input, now), now), ...this.tick(now)];
      }
      default:
        return this.judge(this.verdict.step(input, now), now);
    }
  }

  /** The verdict's heard and died go to our own decisions; the rest is the shell's to do. */
  private judge(actions: VerdictAction[], now: number): GuardianAction[] {
    return actions.flatMap((a): GuardianAction[] => {
      if ('heard' in a) {
        this.primaryHeard(now, a.heard.term);
        return [];
      }
      if (!('died' in a)) return [a];
      this.silence.died(); // we saw it die ourselves: its stream broke and its recorded pid is gone
      return this.tick(now);
    });
  }

  /** We heard the primary ourselves (its beat file changed, or it answered on its Watch stream, saying its term). */
  private primaryHeard(now: number, term?: number): void {
    this.silence.heard(now);
    this.pace.heard();
    if (term !== undefined) this.election.step({ kind: 'termObserved', term }, now);
  }

  /** Call every heartbeat. */
  private tick(now: number): ReviverAction[] {
    const out: ReviverAction[] = [];
    this.silence.look(now);
    const deadForMs = this.silence.deadForMs(now);
    if (deadForMs !== undefined) {
      if (this.pace.fallbackDue(deadForMs, now)) {
        out.push(this.revive(this.election.term, 'unrevived', now));
      } else if (this.pace.mayElect(now) && this.election.phase !== 'electing') {
        const electing: ReviverAction = { electing: { silentMs: this.silence.silentMs(now) } };
        out.push(electing, ...this.follow(this.election.step({ kind: 'start', reason: 'primary dead' }, now), now));
      }
    }
    return [...out, ...this.follow(this.election.step({ kind: 'tick' }, now), now)];
  }

  private decided(term: number, leaderId: string, now: number): ReviverAction[] {
    return this.decisions.due(now) ? [{ decided: { term, leaderId } }] : [];
  }

  private follow(actions: ElectionAction[], now: number): ReviverAction[] {
    return actions.flatMap((a): ReviverAction[] => {
      if ('send' in a) return [a];
      if ('becameLeader' in a) {
        // A ring message can make us lead while we see the primary alive (a forged one, or a
        // stale one): leading then starts nothing, and a leader revives at most once a grace.
        const due = this.silence.deadForMs(now) !== undefined && this.pace.mayRevive(now);
        return due ? [this.revive(a.becameLeader, 'elected', now)] : this.decided(a.becameLeader, this.options.self, now);
      }
      this.pace.leaderReviving(now); // the leader is starting it
      return this.decided(a.leaderKnown.term, a.leaderKnown.leaderId, now);
    });
  }

  private revive(term: number, why: 'elected' | 'unrevived', now: number): ReviverAction {
    this.pace.revived(now);
    return { revive: { term, why, silentMs: this.silence.silentMs(now) } };
  }
}
