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
 * moves the term further than the election's maxTermStep.
 *
 * Pure: no I/O, no timers. Fed `(input, now)` from one monotonic clock through
 * step(); returns actions: send a ring message, revive the primary with a term,
 * note a decision, beat its own file, or the verdict's own (PrimaryVerdict: watch,
 * check a pid, exit).
 */
import { RingElection, type ElectionAction, type RingMsg } from './election';
import { FailureDetector, type FailureDetectorOptions } from './failure-detector';
import type { Supervisor } from './supervisor';
import { PrimaryVerdict, type VerdictAction, type VerdictInput } from './primary-verdict';
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

const PRIMARY = 'primary';

export class Reviver implements Supervisor<GuardianInput, GuardianAction> {
  readonly election: RingElection;
  readonly verdict: PrimaryVerdict;
  private readonly detector: FailureDetector;
  /** How long the primary must be dead, by our own observation, before we revive it whatever the ring says. */
  private readonly fallbackMs: number;
  /** When we first saw the primary dead (undefined while it is not). */
  private deadSince: number | undefined;
  /** A revival (ours, or the ring leader's) is under way until then: no new election before. */
  private waitUntil = 0;
  private revivedAt = -Infinity;
  private beatFilesAt = -Infinity;
  private decidedAt = -Infinity;

  constructor(private readonly options: ReviverOptions, now: number) {
    this.election = new RingElection({
      self: options.self,
      members: options.members,
      electionTimeoutMs: options.electionTimeoutMs,
      initialTerm: options.initialTerm,
    });
    this.verdict = new PrimaryVerdict(options.exitGraceMs);
    this.detector = new FailureDetector(options.detector);
    this.detector.add(PRIMARY, now);
    const rank = ringOrder(options.members).indexOf(options.self);
    this.fallbackMs = options.reviveGraceMs + options.electionTimeoutMs * (1 + rank);
  }

  /** The one way in: every input of a guardian, with the monotonic time. */
  step(input: GuardianInput, now: number): GuardianAction[] {
    switch (input.kind) {
      case 'ring': // from the network (untrusted: see the header)
        this.observe(now);
        return this.follow(this.election.step(input, now), now);
      case 'deliveryFailed':
        return this.follow(this.election.step(input, now), now);
      case 'siblingAlive': // its beat file changed: the ring routes through it again
        this.election.step({ kind: 'memberAlive', member: input.id, alive: true }, now);
        return [];
      case 'tick':
        return [...this.beatFiles(now), ...this.judge(this.verdict.step(input, now), now), ...this.tick(now)];
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
      return 'died' in a ? this.primaryDied(now) : [a];
    });
  }

  /** We heard the primary ourselves (its beat file changed, or it answered on its Watch stream, saying its term). */
  private primaryHeard(now: number, term?: number): void {
    this.detector.heartbeat(PRIMARY, now);
    this.deadSince = undefined;
    this.waitUntil = 0;
    // The grace waits for a start; a primary that beats has started, and its death is a new one.
    this.revivedAt = -Infinity;
    if (term !== undefined) this.election.step({ kind: 'termObserved', term }, now);
  }

  /** We saw the primary die ourselves (its stream broke and its recorded pid is gone). */
  private primaryDied(now: number): ReviverAction[] {
    this.detector.markDead(PRIMARY);
    return this.tick(now);
  }

  /** Call every heartbeat. */
  private tick(now: number): ReviverAction[] {
    const out: ReviverAction[] = [];
    this.observe(now);
    if (this.deadSince !== undefined) {
      const silentMs = this.detector.ageMs(PRIMARY, now) ?? 0;
      if (now - this.deadSince >= this.fallbackMs && now - this.revivedAt >= this.options.reviveGraceMs) {
        out.push(this.revive(this.election.term, 'unrevived', now));
      } else if (now >= this.waitUntil && this.election.phase !== 'electing') {
        out.push({ electing: { silentMs } }, ...this.follow(this.election.step({ kind: 'start', reason: 'primary dead' }, now), now));
      }
    }
    return [...out, ...this.follow(this.election.step({ kind: 'tick' }, now), now)];
  }

  private beatFiles(now: number): ReviverAction[] {
    if (now - this.beatFilesAt < this.options.beatFilesMs) return [];
    this.beatFilesAt = now;
    return [{ beatFiles: {} }];
  }

  private decided(term: number, leaderId: string, now: number): ReviverAction[] {
    if (now - this.decidedAt < this.options.decidedLogMs) return [];
    this.decidedAt = now;
    return [{ decided: { term, leaderId } }];
  }

  private observe(now: number): void {
    if (this.detector.status(PRIMARY, now) !== 'dead') this.deadSince = undefined;
    else this.deadSince ??= now;
  }

  private follow(actions: ElectionAction[], now: number): ReviverAction[] {
    return actions.flatMap((a): ReviverAction[] => {
      if ('send' in a) return [a];
      if ('becameLeader' in a) {
        // A ring message can make us lead while we see the primary alive (a forged one, or a
        // stale one): leading then starts nothing, and a leader revives at most once a grace.
        const due = this.deadSince !== undefined && now - this.revivedAt >= this.options.reviveGraceMs;
        return due ? [this.revive(a.becameLeader, 'elected', now)] : this.decided(a.becameLeader, this.options.self, now);
      }
      this.waitUntil = now + this.options.reviveGraceMs; // the leader is starting it
      return this.decided(a.leaderKnown.term, a.leaderKnown.leaderId, now);
    });
  }

  private revive(term: number, why: 'elected' | 'unrevived', now: number): ReviverAction {
    this.revivedAt = now;
    this.waitUntil = now + this.options.reviveGraceMs;
    return { revive: { term, why, silentMs: this.detector.ageMs(PRIMARY, now) ?? 0 } };
  }
}
