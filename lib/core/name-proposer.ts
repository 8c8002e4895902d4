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

export class NameProposer {
  outcome: ProposerOutcome | null = null;
  /** Waiting for the shell's retry(). */
  backingOff = false;
  ballot: Ballot;
  private phase: 'prepare' | 'accept' = 'prepare';
  private proposal: NameValue | null = null;
  private readonly promises = new Map<string, Extract<AcceptorReply, { type: 'promise' }>>();
  private readonly votes = new Map<string, string>();
  private readonly failures = new Set<string>();
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
    const answered = this.phase === 'prepare' ? this.promises : this.votes;
    if (answered.has(from)) return [];
    this.failures.add(from);
    if (this.opts.acceptors.length - this.failures.size < this.quorum) this.backingOff = true;
    return [];
  }

  /** Acceptors that could still answer this phase. */
  get reachable(): number {
    return this.opts.acceptors.length - this.failures.size;
  }

  private prepareAll(): Send[] {
    this.phase = 'prepare';
    this.proposal = null;
    this.promises.clear();
    this.votes.clear();
    this.failures.clear();
    return this.opts.acceptors.map((to) => ({ to, req: { type: 'prepare', name: this.opts.name, ballot: this.ballot } }));
  }

  private promised(from: string, reply: Extract<AcceptorReply, { type: 'promise' }>): Send[] {
    if (this.phase !== 'prepare' || this.backingOff || compareBallots(reply.ballot, this.ballot) !== 0) return [];
    if (reply.known && !fitsKnown(reply.known, this.opts.value)) {
      this.outcome = { type: 'taken', value: reply.known };
      return [];
    }
    this.promises.set(from, reply);
    this.failures.delete(from);
    if (this.promises.size < this.quorum) return [];
    let highest: { ballot: Ballot; value: NameValue } | null = null;
    for (const p of this.promises.values()) {
      if (p.accepted && (!highest || compareBallots(p.accepted.ballot, highest.ballot) > 0)) highest = p.accepted;
    }
    this.proposal = highest?.value ?? this.opts.value;
    this.phase = 'accept';
    this.failures.clear();
    const value = this.proposal;
    return this.opts.acceptors.map((to) => ({ to, req: { type: 'accept', name: this.opts.name, ballot: this.ballot, value } }));
  }

  private accepted(from: string, reply: Extract<AcceptorReply, { type: 'accepted' }>): Send[] {
    if (this.phase !== 'accept' || compareBallots(reply.ballot, this.ballot) !== 0 || !this.proposal || !sameValue(reply.value, this.proposal)) return [];
    this.votes.set(from, reply.vote);
    this.failures.delete(from);
    if (this.votes.size >= this.quorum) {
      const votes = [...this.votes].map(([acceptor, vote]) => ({ acceptor, vote }));
      this.outcome = { type: 'chosen', value: this.proposal, ballot: this.ballot, votes };
    }
    return [];
  }
}
