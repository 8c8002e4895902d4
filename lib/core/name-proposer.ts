/**
 * A Paxos proposer for one name: prepare with a ballot, and once a majority has
 * promised, ask them to accept the highest value already accepted among the promises
 * (or its own); a majority of accepts of one ballot decides it, and their votes are
 * the proof. An acceptor that knows the name settled ends it at once.
 *
 * Driven by the shell: it sends what start/retry/receive/failed return, calls
 * failed() for a call that broke or timed out, and calls retry() after a random
 * pause when `backingOff` (a higher ballot was seen, or too many calls failed).
 * It gives up by its own deadline, not here. Pure.
 */
import { compareBallots, fitsKnown, majority, sameValue, type AcceptorReply, type AcceptorRequest, type Ballot, type NameValue } from './name-ballot';

export interface Send {
  to: string;
  req: AcceptorRequest;
}

export interface Vote {
  acceptor: string;
  vote: string;
}

export type ProposerOutcome =
  /** This proposer's ballot decided `value` (perhaps another proposer's): the votes are its proof. */
  | { type: 'chosen'; value: NameValue; ballot: Ballot; votes: Vote[] }
  /** An acceptor knew the name settled, with this proof. */
  | { type: 'learned'; value: NameValue; proof: string }
  /** An acceptor's data holds the name for another key or spelling (a room from before this release). */
  | { type: 'taken'; value: NameValue };

export interface ProposerOptions {
  /** The instance: the case-folded name. */
  name: string;
  value: NameValue;
  acceptors: readonly string[];
  /** "<machine>.<random hex>": unique to this proposer. */
  id: string;
  /** The first round to try (e.g. a clock reading: later proposers usually start higher). */
  round?: number;
}

type PromiseReply = Extract<AcceptorReply, { type: 'promise' }>;

/** One ballot's round: the promises of its prepare phase, then the votes for its proposal, and the acceptors that failed this phase. */
interface Round {
  phase: 'prepare' | 'accept';
  proposal: NameValue | null;
  promises: Map<string, PromiseReply>;
  votes: Map<string, string>;
  failures: Set<string>;
}

function newRound(): Round {
  return { phase: 'prepare', proposal: null, promises: new Map(), votes: new Map(), failures: new Set() };
}

export class NameProposer {
  outcome: ProposerOutcome | null = null;
  /** Waiting for the shell's retry(). */
  backingOff = false;
  ballot: Ballot;
  /** The current ballot's round (a new one with each ballot). */
  private round = newRound();
  private highestRound: number;
  private readonly quorum: number;

  constructor(private readonly opts: ProposerOptions) {
    this.quorum = majority(opts.acceptors.length);
    this.highestRound = Math.max(0, Math.floor(opts.round ?? 0));
    this.ballot = { round: this.highestRound, by: opts.id };
  }

  /** The first prepares. */
  start(): Send[] {
    return this.prepareAll();
  }

  /** A new ballot, above every one seen. */
  retry(): Send[] {
    if (this.outcome || !this.backingOff) return [];
    this.backingOff = false;
    this.highestRound++;
    this.ballot = { round: this.highestRound, by: this.opts.id };
    return this.prepareAll();
  }

  receive(from: string, reply: AcceptorReply): Send[] {
    if (this.outcome || !this.opts.acceptors.includes(from)) return [];
    switch (reply.type) {
      case 'decided':
        this.outcome = { type: 'learned', value: reply.value, proof: reply.proof };
        return [];
      case 'taken':
        this.outcome = { type: 'taken', value: reply.value };
        return [];
      case 'not-ready':
        return this.failed(from);
      case 'nack':
        if (compareBallots(reply.ballot, this.ballot) !== 0) return [];
        this.highestRound = Math.max(this.highestRound, reply.promised.round);
        this.backingOff = true;
        return [];
      case 'promise':
        return this.promised(from, reply);
      case 'accepted':
        return this.accepted(from, reply);
    }
  }

  /** A call to `from` broke, timed out, or its acceptor cannot vote yet. */
  failed(from: string): Send[] {
    if (this.outcome || this.backingOff || !this.opts.acceptors.includes(from)) return [];
    const answered = this.round.phase === 'prepare' ? this.round.promises : this.round.votes;
    if (answered.has(from)) return [];
    this.round.failures.add(from);
    if (this.reachable < this.quorum) this.backingOff = true;
    return [];
  }

  /** Acceptors that could still answer this phase. */
  get reachable(): number {
    return this.opts.acceptors.length - this.round.failures.size;
  }

  private prepareAll(): Send[] {
    this.round = newRound();
    return this.opts.acceptors.map((to) => ({ to, req: { type: 'prepare', name: this.opts.name, ballot: this.ballot } }));
  }

  private promised(from: string, reply: PromiseReply): Send[] {
    const round = this.round;
    if (round.phase !== 'prepare' || this.backingOff || compareBallots(reply.ballot, this.ballot) !== 0) return [];
    if (reply.known && !fitsKnown(reply.known, this.opts.value)) {
      this.outcome = { type: 'taken', value: reply.known };
      return [];
    }
    round.promises.set(from, reply);
    round.failures.delete(from);
    if (round.promises.size < this.quorum) return [];
    let highest: { ballot: Ballot; value: NameValue } | null = null;
    for (const p of round.promises.values()) {
      if (p.accepted && (!highest || compareBallots(p.accepted.ballot, highest.ballot) > 0)) highest = p.accepted;
    }
    const value = highest?.value ?? this.opts.value;
    round.proposal = value;
    round.phase = 'accept';
    round.failures.clear();
    return this.opts.acceptors.map((to) => ({ to, req: { type: 'accept', name: this.opts.name, ballot: this.ballot, value } }));
  }

  private accepted(from: string, reply: Extract<AcceptorReply, { type: 'accepted' }>): Send[] {
    const round = this.round;
    if (round.phase !== 'accept' || compareBallots(reply.ballot, this.ballot) !== 0 || !round.proposal || !sameValue(reply.value, round.proposal)) return [];
    round.votes.set(from, reply.vote);
    round.failures.delete(from);
    if (round.votes.size >= this.quorum) {
      const votes = [...round.votes].map(([acceptor, vote]) => ({ acceptor, vote }));
      this.outcome = { type: 'chosen', value: round.proposal, ballot: this.ballot, votes };
    }
    return [];
  }
}
