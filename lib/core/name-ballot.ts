/**
 * What the machines agree on when a name is settled (docs/names.md): one Paxos
 * instance per case-folded name, whose value is the exact name as typed and the
 * key that holds it. Ballots are (round, proposer): a proposer's id starts with
 * its machine and carries random bytes, so no two proposers ever share a ballot,
 * not even one worker before and after a restart. Pure.
 */

export interface Ballot {
  round: number;
  /** The proposer: "<machine>.<random hex>". */
  by: string;
}

/** A name and the key it belongs to ("ed25519:..."; '' for a room created before keys, which any key may claim). */
export interface NameValue {
  name: string;
  key: string;
}

/** Every spelling of a name in one instance: names are unique without regard to case. */
export function foldName(name: string): string {
  return name.toLowerCase();
}

/** A majority of `n` machines. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

export function compareBallots(a: Ballot, b: Ballot): number {
  return a.round - b.round || (a.by < b.by ? -1 : a.by > b.by ? 1 : 0);
}

export function sameValue(a: NameValue, b: NameValue): boolean {
  return a.name === b.name && a.key === b.key;
}

/**
 * Whether `value` may be accepted where a machine's data already holds `known`: only
 * the same spelling, and only its key (any key for a room created before keys).
 */
export function fitsKnown(known: NameValue, value: NameValue): boolean {
  return known.name === value.name && (known.key === '' || known.key === value.key);
}

/** What a proposer asks an acceptor. */
export type AcceptorRequest =
  | { type: 'prepare'; name: string; ballot: Ballot }
  | { type: 'accept'; name: string; ballot: Ballot; value: NameValue };

/** What an acceptor answers. `vote` is its signature of the accepted value (made by the shell). */
export type AcceptorReply =
  /** Promised: no accept below `ballot`; `accepted` is the highest it accepted, `known` what its data holds. */
  | { type: 'promise'; ballot: Ballot; accepted: { ballot: Ballot; value: NameValue } | null; known: NameValue | null }
  | { type: 'accepted'; ballot: Ballot; value: NameValue; vote: string }
  /** Refused: it promised a higher ballot. */
  | { type: 'nack'; ballot: Ballot; promised: Ballot }
  /** The name is settled and this is the proof (a certified create is on that machine). */
  | { type: 'decided'; value: NameValue; proof: string }
  /** Its data holds the name for another key or spelling, without a proof (a room from before this release). */
  | { type: 'taken'; value: NameValue }
  /** It cannot vote yet (a new data dir still learning its peers' votes). */
  | { type: 'not-ready'; reason: string };
