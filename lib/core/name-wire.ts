/**
 * Acceptor requests and replies (name-ballot.ts) as the Replication service's Vote
 * messages carry them, and back. What comes from outside is checked: a malformed
 * message is null, never a half-read one. Pure.
 */
import { foldName, type AcceptorReply, type AcceptorRequest, type Ballot, type NameValue } from './name-ballot';
import { MAX_PROOF_CHARS } from './event';
import { isUsername } from './usernames';

/** The shapes of protos/ftchat.proto's NameBallot, NameValue, VoteRequest and VoteReply (as decoded: absent messages are null). */
interface WireBallot {
  round: number;
  by: string;
}
interface WireValue {
  name: string;
  key: string;
}
export interface WireVoteRequest {
  from: string;
  kind: string;
  name: string;
  ballot: WireBallot | null;
  value?: WireValue | null;
}
export interface WireVoteReply {
  kind: string;
  ballot?: WireBallot | null;
  accepted_ballot?: WireBallot | null;
  value?: WireValue | null;
  known?: WireValue | null;
  promised?: WireBallot | null;
  vote?: string;
  proof?: string;
  reason?: string;
}

/** A proposer id: its machine, a dot and random hex. */
const PROPOSER = /^[a-z0-9][a-z0-9_-]{0,15}\.[0-9a-f]{1,32}$/;
const KEY_TEXT = /^ed25519:[A-Za-z0-9+/]{43}=$/;
const MAX_VOTE_CHARS = 4_096;

export function ballotFromWire(b: WireBallot | null | undefined): Ballot | null {
  return b && Number.isSafeInteger(b.round) && b.round >= 0 && PROPOSER.test(b.by) ? { round: b.round, by: b.by } : null;
}

/** A value as a peer sends it: a username and a key text ('' only where the data holds a room from before keys). */
export function valueFromWire(v: WireValue | null | undefined, keyless = false): NameValue | null {
  return v && isUsername(v.name) && (KEY_TEXT.test(v.key) || (keyless && v.key === '')) ? { name: v.name, key: v.key } : null;
}

export function requestToWire(from: string, req: AcceptorRequest): WireVoteRequest {
  return { from, kind: req.type, name: req.name, ballot: req.ballot, ...(req.type === 'accept' ? { value: req.value } : {}) };
}

export function requestFromWire(r: WireVoteRequest): AcceptorRequest | null {
  const ballot = ballotFromWire(r.ballot);
  if (!ballot || !isUsername(r.name) || foldName(r.name) !== r.name) return null;
  if (r.kind === 'prepare') return { type: 'prepare', name: r.name, ballot };
  const value = valueFromWire(r.value);
  return r.kind === 'accept' && value && foldName(value.name) === r.name ? { type: 'accept', name: r.name, ballot, value } : null;
}

export function replyToWire(reply: AcceptorReply): WireVoteReply {
  switch (reply.type) {
    case 'promise':
      return { kind: reply.type, ballot: reply.ballot, accepted_ballot: reply.accepted?.ballot ?? null, value: reply.accepted?.value ?? null, known: reply.known };
    case 'accepted':
      return { kind: reply.type, ballot: reply.ballot, value: reply.value, vote: reply.vote };
    case 'nack':
      return { kind: reply.type, ballot: reply.ballot, promised: reply.promised };
    case 'decided':
      return { kind: reply.type, value: reply.value, proof: reply.proof };
    case 'taken':
      return { kind: reply.type, value: reply.value };
    case 'not-ready':
      return { kind: reply.type, reason: reply.reason };
  }
}

/** A reply from an acceptor, or null if malformed. */
export function replyFromWire(r: WireVoteReply): AcceptorReply | null {
  const ballot = ballotFromWire(r.ballot);
  switch (r.kind) {
    case 'promise': {
      const acceptedBallot = ballotFromWire(r.accepted_ballot);
      const value = valueFromWire(r.value);
      const known = r.known ? valueFromWire(r.known, true) : null;
      if (!ballot || (r.known && !known) || (acceptedBallot === null) !== (value === null)) return null;
      return { type: 'promise', ballot, accepted: acceptedBallot && value ? { ballot: acceptedBallot, value } : null, known };
    }
    case 'accepted': {
      const value = valueFromWire(r.value);
      return ballot && value && typeof r.vote === 'string' && r.vote.length <= MAX_VOTE_CHARS ? { type: 'accepted', ballot, value, vote: r.vote } : null;
    }
    case 'nack': {
      const promised = ballotFromWire(r.promised);
      return ballot && promised ? { type: 'nack', ballot, promised } : null;
    }
    case 'decided': {
      const value = valueFromWire(r.value);
      return value && typeof r.proof === 'string' && r.proof.length <= MAX_PROOF_CHARS ? { type: 'decided', value, proof: r.proof } : null;
    }
    case 'taken': {
      const value = valueFromWire(r.value, true);
      return value ? { type: 'taken', value } : null;
    }
    case 'not-ready':
      return { type: 'not-ready', reason: String(r.reason ?? '').slice(0, 200) };
    default:
      return null;
  }
}
