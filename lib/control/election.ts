/**
 * Ring election (Chang–Roberts) among a fixed set of members (a machine's
 * guardians) to pick the one that revives the dead primary. Ring order is the
 * sorted member ids; a member sends to the next member it does not believe dead.
 *
 * An Election message travels the ring carrying the largest id it has passed;
 * a member that gets its own id back is the leader of that term and sends an
 * Elected message around. Every election runs in a TERM; a higher term always
 * wins and messages of an older term are ignored.
 *
 * At most one leader per term, without a quorum (a lone survivor must still elect
 * itself), rests on three rules:
 *  - a term is opened by one member only: member i of n owns the terms t with
 *    (t - 1) mod n = i, and opens a new term strictly above every term it has seen;
 *  - each term is one chain of messages: a member forwards a term's Election only
 *    with a candidate larger than any it already forwarded (so duplicates and
 *    stragglers die), and wins only if it never forwarded anyone larger;
 *  - a failed send is never re-routed inside the term (the "failed" message may
 *    have arrived — a paused member, a timed-out call), so deliveryFailed marks
 *    the target dead and opens a NEW term that routes around it.
 * Liveness: an election unfinished after electionTimeoutMs reopens in a new term.
 * The ring order, term ownership and routing around the dead are ring-members.ts's.
 *
 * Pure: no I/O, no timers. The caller feeds each input through step() (start,
 * ring, deliveryFailed, tick, memberAlive from its failure detector, termObserved)
 * with the current monotonic time and performs the returned actions: send each message,
 * and on becameLeader ensure the revived process runs with that term as its fence
 * (idempotently: a member may lead several terms in a row). If the leader does
 * not deliver within a grace period (the process stays dead), start again:
 * on a decided election it opens a new term at once, so calling it on every tick
 * would churn terms.
 * A member that was cut off or paused through an election learns its outcome from
 * any later message of that term or a newer one, or from termObserved once the
 * revived process answers; until then it may think an old term's leader leads,
 * which is harmless: the guardians act on their own sight of the process (reviver.ts).
 * A restarted member should get the highest term persisted (the fence) as
 * initialTerm, so its new terms exceed its previous life's.
 *
 * Messages come from the network, and a holder of the cluster secret can forge
 * them, so one message moves the term by at most maxTermStep (terms stay small
 * integers however many arrive), and terms learned from a trusted local source
 * (the primary's own record) go in as termObserved. Whether the watched
 * process is revived at all is never the election's call: see reviver.ts.
 */
import { RingMembers } from './ring-members';
import type { Supervisor, Tick } from './supervisor';

export interface ElectionMsg {
  kind: 'election';
  term: number;
  /** The largest member id the message has passed so far. */
  candidateId: string;
  /** The member that opened the term. */
  origin: string;
}

export interface ElectedMsg {
  kind: 'elected';
  term: number;
  leaderId: string;
}

export type RingMsg = ElectionMsg | ElectedMsg;

export type ElectionAction =
  | { send: { to: string; msg: RingMsg } }
  /** This member leads `term`: it revives the dead process. */
  | { becameLeader: number }
  /** Another member leads `term`. */
  | { leaderKnown: { term: number; leaderId: string } };

export type ElectionInput =
  /** Open an election (e.g. the watched process died). Does nothing while one is already running. */
  | { kind: 'start'; reason: string }
  /** A ring message from the network. */
  | { kind: 'ring'; msg: RingMsg }
  /** Sending `msg` to `to` failed (refused, timed out): `to` is taken as dead and the ring routes around it. */
  | { kind: 'deliveryFailed'; to: string; msg: RingMsg }
  /** The failure detector's view of a member. */
  | { kind: 'memberAlive'; member: string; alive: boolean }
  /**
   * A term known from a trusted local source (the watched process's own record or
   * answer): later terms start above it. An election under way is left to finish.
   */
  | { kind: 'termObserved'; term: number }
  /** Regularly: an election that has not finished in electionTimeoutMs reopens in a new term. */
  | Tick;

export type ElectionPhase = 'idle' | 'electing' | 'leader' | 'follower';

export interface RingElectionOptions {
  self: string;
  /** Every ring member, self included, in any order. */
  members: readonly string[];
  electionTimeoutMs: number;
  /** The highest term known from before (e.g. the fence on disk); new terms start above it. */
  initialTerm?: number;
  /** A message whose term lies further than this above the current one is ignored. */
  maxTermStep?: number;
}

/**
 * Honest members open terms at most n above the newest they have seen, and catch up
 * on revivals through termObserved, so they stay far closer than this.
 */
export const DEFAULT_MAX_TERM_STEP = 1_000;

export interface ElectionStatus {
  self: string;
  term: number;
  phase: ElectionPhase;
  leaderId: string | undefined;
  /** Why this member last opened an election. */
  reason: string;
  dead: string[];
}

/** Where this member stands in the term it is in. */
interface TermState {
  term: number;
  phase: ElectionPhase;
  leaderId: string | undefined;
  /** The largest candidate this member sent on in this term. */
  best: string | undefined;
  /** When this term's election gives up and reopens. */
  deadline: number;
  reason: string;
}

export class RingElection implements Supervisor<ElectionInput, ElectionAction> {
  private readonly ring: RingMembers;
  private readonly limits: { electionTimeoutMs: number; maxTermStep: number };
  private state: TermState;

  constructor(options: RingElectionOptions) {
    this.ring = new RingMembers(options.self, options.members);
    const bad = (what: string): never => {
      throw new Error(`ring election: ${what}`);
    };
    const timeout = options.electionTimeoutMs;
    if (!Number.isFinite(timeout) || timeout <= 0) bad(`electionTimeoutMs must be a positive number of ms (got ${timeout})`);
    const step = options.maxTermStep ?? DEFAULT_MAX_TERM_STEP;
    if (!Number.isSafeInteger(step) || step < this.ring.ids.length) bad(`maxTermStep must be an integer >= the ring's size (got ${step})`);
    const term = options.initialTerm ?? 0;
    if (!Number.isSafeInteger(term) || term < 0) bad(`initialTerm must be an integer >= 0 (got ${term})`);
    this.limits = { electionTimeoutMs: timeout, maxTermStep: step };
    this.state = { term, phase: 'idle', leaderId: undefined, best: undefined, deadline: Infinity, reason: '' };
  }

  get term(): number {
    return this.state.term;
  }

  get phase(): ElectionPhase {
    return this.state.phase;
  }

  /** The leader of the current term, once known. */
  leader(): { term: number; leaderId: string } | undefined {
    const { term, leaderId } = this.state;
    return leaderId === undefined ? undefined : { term, leaderId };
  }

  status(): ElectionStatus {
    const { term, phase, leaderId, reason } = this.state;
    return { self: this.ring.self, term, phase, leaderId, reason, dead: this.ring.deadMembers() };
  }

  /** The one way in: every input, with the monotonic time. */
  step(input: ElectionInput, now: number): ElectionAction[] {
    const s = this.state;
    switch (input.kind) {
      case 'start':
        return s.phase === 'electing' ? [] : this.openTerm(now, input.reason);
      case 'ring': {
        const { msg } = input;
        if (!Number.isSafeInteger(msg.term) || msg.term < s.term || msg.term > s.term + this.limits.maxTermStep) return [];
        return msg.kind === 'election' ? this.onElection(msg, now) : this.onElected(msg, now);
      }
      case 'deliveryFailed':
        return this.deliveryFailed(input.to, input.msg, now);
      case 'memberAlive':
        this.ring.setAlive(input.member, input.alive);
        return [];
      case 'termObserved':
        if (Number.isSafeInteger(input.term) && input.term > s.term && s.phase !== 'electing') {
          this.state = { ...s, term: input.term, phase: 'idle', leaderId: undefined, best: undefined };
        }
        return [];
      case 'tick':
        return s.phase === 'electing' && now >= s.deadline ? this.openTerm(now, `term ${s.term} timed out`) : [];
    }
  }

  private deliveryFailed(to: string, msg: RingMsg, now: number): ElectionAction[] {
    this.ring.setAlive(to, false);
    if (msg.term !== this.state.term) return [];
    if (msg.kind === 'elected') return this.state.leaderId === msg.leaderId ? this.forward(msg, now) : [];
    return this.state.phase === 'electing' ? this.openTerm(now, `${to} unreachable`) : [];
  }

  private onElection(msg: ElectionMsg, now: number): ElectionAction[] {
    if (!this.ring.has(msg.candidateId) || !this.ring.owns(msg.origin, msg.term)) return [];
    if (msg.term > this.state.term) this.adopt(msg.term, now);
    // Only an open election takes part: a decided term is over, and an idle member at
    // its initial term may have handled this very message in a previous life.
    const s = this.state;
    if (s.phase !== 'electing') return [];
    const self = this.ring.self;
    if (msg.candidateId === self) {
      if (s.best !== self) return []; // it forwarded someone larger: this is a straggler
      this.state = { ...s, phase: 'leader', leaderId: self, deadline: Infinity };
      return [{ becameLeader: s.term }, ...this.forward({ kind: 'elected', term: s.term, leaderId: self }, now)];
    }
    const candidate = msg.candidateId > self ? msg.candidateId : self;
    if (s.best !== undefined && candidate <= s.best) return [];
    this.state = { ...s, best: candidate };
    return this.forward({ ...msg, candidateId: candidate }, now);
  }

  private onElected(msg: ElectedMsg, now: number): ElectionAction[] {
    if (!this.ring.has(msg.leaderId)) return [];
    if (msg.term > this.state.term) this.adopt(msg.term, now);
    const s = this.state;
    if (s.phase === 'leader' || s.phase === 'follower') return []; // known already: the announcement has gone round
    if (msg.leaderId === this.ring.self) return []; // names this member, which does not lead: a previous life's
    this.state = { ...s, phase: 'follower', leaderId: msg.leaderId, deadline: Infinity };
    return [{ leaderKnown: { term: msg.term, leaderId: msg.leaderId } }, ...this.forward(msg, now)];
  }

  /** Open a new term of this member's, above every term it has seen. */
  private openTerm(now: number, reason: string): ElectionAction[] {
    this.adopt(this.ring.nextOwnedTerm(this.state.term), now);
    const self = this.ring.self;
    this.state = { ...this.state, best: self, reason };
    return this.forward({ kind: 'election', term: this.state.term, candidateId: self, origin: self }, now);
  }

  private adopt(term: number, now: number): void {
    this.state = { ...this.state, term, phase: 'electing', leaderId: undefined, best: undefined, deadline: now + this.limits.electionTimeoutMs };
  }

  /** Send to the next live member; with no other member alive, the message has come round at once. */
  private forward(msg: RingMsg, now: number): ElectionAction[] {
    const to = this.ring.nextLive();
    if (to !== this.ring.self) return [{ send: { to, msg } }];
    if (msg.kind === 'elected') return [];
    // Alone: a candidate other than self is dead in this member's view, so it opens a term it can win.
    return msg.candidateId === this.ring.self ? this.onElection(msg, now) : this.openTerm(now, this.state.reason);
  }
}
