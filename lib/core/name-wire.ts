/**
 * Acceptor requests and replies (name-ballot.ts) as the Replication service's Vote
 * messages carry them, and back. What comes from outside is checked: a malformed
 * message is null, never a half-read one. Pure.
 */
import type { NameBallot__Output } from '../gen/ftchat/NameBallot';
import type { NameValue__Output } from '../gen/ftchat/NameValue';
import type { VoteReply, VoteReply__Output } from '../gen/ftchat/VoteReply';
import type { VoteRequest, VoteRequest__Output } from '../gen/ftchat/VoteRequest';
import { foldName, type AcceptorReply, type AcceptorRequest, type Ballot, type NameValue } from './name-ballot';
import { MAX_PROOF_CHARS } from './event';
import { isUsername } from './usernames';

/** A proposer id: its machine, a dot and random hex. */
const PROPOSER = /^[a-z0-9][a-z0-9_-]{0,15}\.[0-9a-f]{1,32}$/;
const KEY_TEXT = /^ed25519:[A-Za-z0-9+/]{43}=$/;
const MAX_VOTE_CHARS = 4_096;

export function ballotFromWire(b: NameBallot__Output | null | undefined): Ballot | null {
  return b && Number.isSafeInteger(b.round) && b.round >= 0 && PROPOSER.test(b.by) ? { round: b.round, by: b.by } : null;
}

/** A value as a peer sends it: a username and a key text ('' only where the data holds a room from before keys). */
export function valueFromWire(v: NameValue__Output | null | undefined, keyless = false): NameValue | null {
  return v && isUsername(v.name) && (KEY_TEXT.test(v.key) || (keyless && v.key === '')) ? { name: v.name, key: v.key } : null;
}

export function requestToWire(from: string, req: AcceptorRequest): VoteRequest {
  return { from, kind: req.type, name: req.name, ballot: req.ballot, ...(req.type === 'accept' ? { value: req.value } : {}) };
}

export function requestFromWire(r: VoteRequest__Output): AcceptorRequest | null {
  const ballot = ballotFromWire(r.ballot);
  if (!ballot || !isUsername(r.name) || foldName(r.name) !== r.name) return null;
  if (r.kind === 'prepare') return { type: 'prepare', name: r.name, ballot };
  const value = valueFromWire(r.value);
  return r.kind === 'accept' && value && foldName(value.name) === r.name ? { type: 'accept', name: r.name, ballot, value } : null;
}

export function replyToWire(reply: AcceptorReply): VoteReply {
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
export function replyFromWire(r: VoteReply__Output): AcceptorReply | null {
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
      return ballot && value && r.vote.length <= MAX_VOTE_CHARS ? { type: 'accepted', ballot, value, vote: r.vote } : null;
    }
    case 'nack': {
      const promised = ballotFromWire(r.promised);
      return ballot && promised ? { type: 'nack', ballot, promised } : null;
    }
    case 'decided': {
      const value = valueFromWire(r.value);
      return value && r.proof.length <= MAX_PROOF_CHARS ? { type: 'decided', value, proof: r.proof } : null;
    }
    case 'taken': {
      const value = valueFromWire(r.value, true);
      return value ? { type: 'taken', value } : null;
    }
    case 'not-ready':
      return { type: 'not-ready', reason: r.reason.slice(0, 200) };
    default:
      return null;
  }
}
