/**
 * A Paxos acceptor for names, one record per case-folded name: what it promised and
 * what it accepted. A step takes the record, what the machine's data already says of
 * the name, and a request; it returns the reply and the record to store first (the
 * shell fsyncs it before answering). Pure.
 *
 * Besides classic Paxos it refuses what the machine's data rules out: a name settled
 * with a proof is answered with that proof, and a name held without one (a room from
 * before this release) is never accepted for another key or spelling. Refusing more
 * never breaks Paxos's safety; it only costs the refused proposer.
 */
import { compareBallots, fitsKnown, majority, type AcceptorReply, type AcceptorRequest, type Ballot, type NameValue } from './name-ballot';

export interface AcceptorRecord {
  promised: Ballot | null;
  accepted: { ballot: Ballot; value: NameValue } | null;
}

export const EMPTY_RECORD: AcceptorRecord = { promised: null, accepted: null };

/** What this machine's data holds for a name: its owner, with the proof if it was settled by a majority. */
export interface KnownName {
  value: NameValue;
  proof: string | null;
}

export interface AcceptorStep {
  /** The record to store durably before the reply is sent; null: unchanged. */
  store: AcceptorRecord | null;
  /** The reply; an 'accepted' reply's vote is left '' for the shell to sign. */
  reply: AcceptorReply;
}

export function acceptorStep(record: AcceptorRecord, known: KnownName | null, req: AcceptorRequest): AcceptorStep {
  if (known?.proof) return { store: null, reply: { type: 'decided', value: known.value, proof: known.proof } };
  const behind = record.promised !== null && compareBallots(req.ballot, record.promised) < 0;
  if (req.type === 'prepare') {
    if (behind) return { store: null, reply: { type: 'nack', ballot: req.ballot, promised: record.promised as Ballot } };
    const same = record.promised !== null && compareBallots(req.ballot, record.promised) === 0;
    return {
      store: same ? null : { ...record, promised: req.ballot },
      reply: { type: 'promise', ballot: req.ballot, accepted: record.accepted, known: known?.value ?? null },
    };
  }
  if (known && !fitsKnown(known.value, req.value)) return { store: null, reply: { type: 'taken', value: known.value } };
  if (behind) return { store: null, reply: { type: 'nack', ballot: req.ballot, promised: record.promised as Ballot } };
  return {
    store: { promised: req.ballot, accepted: { ballot: req.ballot, value: req.value } },
    reply: { type: 'accepted', ballot: req.ballot, value: req.value, vote: '' },
  };
}

/** The record that dominates both (taken from peers by an acceptor whose own records were lost). */
export function mergeRecords(a: AcceptorRecord, b: AcceptorRecord): AcceptorRecord {
  const higher = <T>(x: T | null, y: T | null, ballot: (v: T) => Ballot): T | null =>
    x === null ? y : y === null ? x : compareBallots(ballot(x), ballot(y)) >= 0 ? x : y;
  return {
    promised: higher(a.promised, b.promised, (p) => p),
    accepted: higher(a.accepted, b.accepted, (v) => v.ballot),
  };
}

/** What a peer said when asked for its records. */
export interface PeerRecords {
  peer: string;
  /** How many of its records hold an accepted vote. */
  accepted: number;
}

/**
 * Whether an acceptor whose records were lost (a new data dir) may vote again,
 * having merged the records of the peers that answered: once every peer has
 * answered (each of its lost votes was also given by another machine, whose
 * record it now holds), or when a majority, itself included, holds no accepted
 * vote (a cluster's first start, some machine not up yet). Promises alone do not
 * count against it: on a first start the machines become ready one by one, and the
 * first new name's prepares reach those ready already; a value is chosen only by a
 * majority's accepted votes, which the answered peers would hold.
 */
export function mayVoteAgain(answers: readonly PeerRecords[], peers: readonly string[]): boolean {
  const answered = new Set(answers.map((a) => a.peer));
  if (peers.every((p) => answered.has(p))) return true;
  return answered.size + 1 >= majority(peers.length + 1) && answers.every((a) => a.accepted === 0);
}
