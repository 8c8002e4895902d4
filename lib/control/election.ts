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
 *    have arrived — a paused member, a timed-out call), so deliveryFailed() marks
 *    the target dead and opens a NEW term that routes around it.
 * Liveness: an election unfinished after electionTimeoutMs reopens in a new term.
 *
 * Pure: no I/O, no timers. The caller feeds inputs (start, receive,
 * deliveryFailed, tick, setAlive from its failure detector) with the
 * current monotonic time and performs the returned actions: send each message,
 * and on becameLeader ensure the revived process runs with that term as its fence
 * (idempotently: a member may lead several terms in a row). If the leader does
 * not deliver within a grace period (the process stays dead), call start() again:
 * on a decided election it opens a new term at once, so calling it on every tick
 * would churn terms.
 * A member that was cut off or paused through an election learns its outcome from
 * any later message of that term or a newer one, or from observeTerm() once the
 * revived process answers; until then it may think an old term's leader leads,
 * which is harmless: the guardians act on their own sight of the process (reviver.ts).
 * A restarted member should get the highest term persisted (the fence) as
 * initialTerm, so its new terms exceed its previous life's.
 *
 * Messages come from the network, and a holder of the cluster secret can forge
 * them, so one message moves the term by at most maxTermStep (terms stay small
 * integers however many arrive), and terms learned from a trusted local source
 * (the primary's own record) go in through observeTerm(). Whether the watched
 * process is revived at all is never the election's call: see reviver.ts.
 */

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
 * on revivals through observeTerm(), so they stay far closer than this.
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

export class RingElection {
  readonly self: string;
  /** Sorted: the ring order. */
  readonly members: readonly string[];
  readonly electionTimeoutMs: number;
  readonly maxTermStep: number;
  private readonly index: number;
  private readonly dead = new Set<string>();
  private currentTerm: number;
  private currentPhase: ElectionPhase = 'idle';
  private leaderId: string | undefined;
  /** The largest candidate this member sent on in the current term. */
  private best: string | undefined;
  /** When the current election gives up and reopens. */
  private deadline = Infinity;
  private reason = '';

  constructor(options: RingElectionOptions) {
    const members = [...options.members].sort();
    const bad = (what: string): never => {
      throw new Error(`ring election: ${what}`);
    };
    if (members.length === 0) bad('the ring needs at least one member');
    if (new Set(members).size !== members.length) bad(`member ids must be distinct (got ${members.join(', ')})`);
    const index = members.indexOf(options.self);
    if (index < 0) bad(`self "${options.self}" is not a member (${members.join(', ')})`);
    const timeout = options.electionTimeoutMs;
    if (!Number.isFinite(timeout) || timeout <= 0) bad(`electionTimeoutMs must be a positive number of ms (got ${timeout})`);
    const step = options.maxTermStep ?? DEFAULT_MAX_TERM_STEP;
    if (!Number.isSafeInteger(step) || step < members.length) bad(`maxTermStep must be an integer >= the ring's size (got ${step})`);
    const term = options.initialTerm ?? 0;
    if (!Number.isSafeInteger(term) || term < 0) bad(`initialTerm must be an integer >= 0 (got ${term})`);
    this.self = options.self;
    this.members = members;
    this.index = index;
    this.electionTimeoutMs = timeout;
    this.maxTermStep = step;
    this.currentTerm = term;
  }

  get term(): number {
    return this.currentTerm;
  }

  get phase(): ElectionPhase {
    return this.currentPhase;
  }

  /** The leader of the current term, once known. */
  leader(): { term: number; leaderId: string } | undefined {
    return this.leaderId === undefined ? undefined : { term: this.currentTerm, leaderId: this.leaderId };
  }

  status(): ElectionStatus {
    return {
      self: this.self,
      term: this.currentTerm,
      phase: this.currentPhase,
      leaderId: this.leaderId,
      reason: this.reason,
      dead: [...this.dead].sort(),
    };
  }

  /** The failure detector's view of a member: the ring routes around the dead ones. */
  setAlive(member: string, alive: boolean): void {
    if (!this.isMember(member)) throw new Error(`ring election: "${member}" is not a member (${this.members.join(', ')})`);
    if (alive || member === this.self) this.dead.delete(member);
    else this.dead.add(member);
  }

  /** Open an election (e.g. the watched process died). Does nothing while one is already running. */
  start(now: number, reason: string): ElectionAction[] {
    if (this.currentPhase === 'electing') return [];
    this.reason = reason;
    return this.openTerm(now);
  }

  receive(msg: RingMsg, now: number): ElectionAction[] {
    if (!Number.isSafeInteger(msg.term) || msg.term < this.currentTerm || msg.term > this.currentTerm + this.maxTermStep) return [];
    return msg.kind === 'election' ? this.onElection(msg, now) : this.onElected(msg, now);
  }

  /**
   * A term known from a trusted local source (the watched process's own record or
   * answer): later terms start above it. An election under way is left to finish.
   */
  observeTerm(term: number): void {
    if (!Number.isSafeInteger(term) || term <= this.currentTerm || this.currentPhase === 'electing') return;
    this.currentTerm = term;
    this.currentPhase = 'idle';
    this.leaderId = undefined;
    this.best = undefined;
  }

  /** Sending `msg` to `to` failed (refused, timed out): `to` is taken as dead and the ring routes around it. */
  deliveryFailed(to: string, msg: RingMsg, now: number): ElectionAction[] {
    this.setAlive(to, false);
    if (msg.term !== this.currentTerm) return [];
    if (msg.kind === 'elected') return this.leaderId === msg.leaderId ? this.forward(msg, now) : [];
    if (this.currentPhase !== 'electing') return [];
    this.reason = `${to} unreachable`;
    return this.openTerm(now);
  }

  /** Call regularly: an election that has not finished in electionTimeoutMs reopens in a new term. */
  tick(now: number): ElectionAction[] {
    if (this.currentPhase !== 'electing' || now < this.deadline) return [];
    this.reason = `term ${this.currentTerm} timed out`;
    return this.openTerm(now);
  }

  private onElection(msg: ElectionMsg, now: number): ElectionAction[] {
    if (!this.isMember(msg.candidateId) || ownerOfTerm(this.members, msg.term) !== msg.origin) return [];
    if (msg.term > this.currentTerm) this.adopt(msg.term, now);
    // Only an open election takes part: a decided term is over, and an idle member at
    // its initial term may have handled this very message in a previous life.
    if (this.currentPhase !== 'electing') return [];
    if (msg.candidateId === this.self) {
      if (this.best !== this.self) return []; // it forwarded someone larger: this is a straggler
      this.currentPhase = 'leader';
      this.leaderId = this.self;
      this.deadline = Infinity;
      return [{ becameLeader: this.currentTerm }, ...this.forward({ kind: 'elected', term: this.currentTerm, leaderId: this.self }, now)];
    }
    const candidate = msg.candidateId > this.self ? msg.candidateId : this.self;
    if (this.best !== undefined && candidate <= this.best) return [];
    this.best = candidate;
    return this.forward({ ...msg, candidateId: candidate }, now);
  }

  private onElected(msg: ElectedMsg, now: number): ElectionAction[] {
    if (!this.isMember(msg.leaderId)) return [];
    if (msg.term > this.currentTerm) this.adopt(msg.term, now);
    if (this.currentPhase === 'leader' || this.currentPhase === 'follower') return []; // known already: the announcement has gone round
    if (msg.leaderId === this.self) return []; // names this member, which does not lead: a previous life's
    this.currentPhase = 'follower';
    this.leaderId = msg.leaderId;
    this.deadline = Infinity;
    return [{ leaderKnown: { term: msg.term, leaderId: msg.leaderId } }, ...this.forward(msg, now)];
  }

  private openTerm(now: number): ElectionAction[] {
    this.adopt(nextOwnedTerm(this.currentTerm, this.index, this.members.length), now);
    this.best = this.self;
    return this.forward({ kind: 'election', term: this.currentTerm, candidateId: this.self, origin: this.self }, now);
  }

  private adopt(term: number, now: number): void {
    this.currentTerm = term;
    this.currentPhase = 'electing';
    this.leaderId = undefined;
    this.best = undefined;
    this.deadline = now + this.electionTimeoutMs;
  }

  /** Send to the next live member; with no other member alive, the message has come round at once. */
  private forward(msg: RingMsg, now: number): ElectionAction[] {
    const to = this.nextLive();
    if (to !== this.self) return [{ send: { to, msg } }];
    if (msg.kind === 'elected') return [];
    // Alone: a candidate other than self is dead in this member's view, so it opens a term it can win.
    return msg.candidateId === this.self ? this.onElection(msg, now) : this.openTerm(now);
  }

  private nextLive(): string {
    const n = this.members.length;
    for (let step = 1; step < n; step++) {
      const m = this.members[(this.index + step) % n];
      if (!this.dead.has(m)) return m;
    }
    return this.self;
  }

  private isMember(id: string): boolean {
    return this.members.includes(id);
  }
}

/** The member that may open `term` (terms start at 1). */
export function ownerOfTerm(sortedMembers: readonly string[], term: number): string | undefined {
  return term >= 1 ? sortedMembers[(term - 1) % sortedMembers.length] : undefined;
}

/** The smallest term above `current` that member `index` of `n` owns. */
export function nextOwnedTerm(current: number, index: number, n: number): number {
  return current + 1 + ((((index - current) % n) + n) % n);
}
