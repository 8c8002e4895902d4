/**
 * The proof that a name was settled (docs/names.md): the votes of a majority of the
 * cluster's machines for one ballot and value, each signed with that machine's TLS
 * key (ECDSA P-256, from `fbs init`) and carrying its certificate, which must come
 * from the cluster's CA and name the machine. A create carrying a valid proof is
 * the name's; one machine alone, even holding the secret, cannot make one.
 *
 * Without TLS (loopback only) a vote is an HMAC under a key derived from the cluster
 * secret: it proves only that a holder of the secret voted.
 *
 * Text: "p1." + base64url(JSON {r: round, b: proposer, v: [[machine, vote], ...]}),
 * a vote "<certificate DER, base64url>.<signature, base64url>" (with TLS) or
 * ".<HMAC-SHA256, base64url>" (without). Pure: the caller passes the trust roots.
 */
import { createHmac, timingSafeEqual, verify, type KeyObject, type X509Certificate } from 'node:crypto';
import { majority, type Ballot, type NameValue } from './name-ballot';

/** The bytes a machine signs when it accepts `value` at `ballot`. */
export function voteMessage(value: NameValue, ballot: Ballot): Buffer {
  return Buffer.from(`ftchat-name-vote-v1\n${value.name}\n${value.key}\n${ballot.round}\n${ballot.by}`, 'utf8');
}

/** The HMAC vote of `machine` (clusters without TLS). */
export function macVote(macKey: Buffer, machine: string, message: Buffer): string {
  return `.${createHmac('sha256', macKey).update(`${machine}\n`).update(message).digest('base64url')}`;
}

export function encodeProof(ballot: Ballot, votes: { acceptor: string; vote: string }[]): string {
  const body = { r: ballot.round, b: ballot.by, v: votes.map((v) => [v.acceptor, v.vote]) };
  return `p1.${Buffer.from(JSON.stringify(body)).toString('base64url')}`;
}

export interface DecodedProof {
  ballot: Ballot;
  votes: { machine: string; vote: string }[];
}

/** The parts of a proof text from outside, or null if it is not one. */
export function decodeProof(proof: unknown): DecodedProof | null {
  if (typeof proof !== 'string' || !proof.startsWith('p1.')) return null;
  let o: unknown;
  try {
    o = JSON.parse(Buffer.from(proof.slice(3), 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const { r, b, v } = (o ?? {}) as Record<string, unknown>;
  if (!Number.isSafeInteger(r) || (r as number) < 0 || typeof b !== 'string' || !Array.isArray(v)) return null;
  const votes = v.map((x: unknown) => (Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'string' ? { machine: x[0], vote: x[1] } : null));
  if (votes.some((x) => x === null)) return null;
  return { ballot: { round: r as number, by: b }, votes: votes as { machine: string; vote: string }[] };
}

/** What a proof is checked against: the cluster's machines, and its CAs (with TLS) or the secret's vote key (without). */
export interface ProofTrust {
  machines: readonly string[];
  /** The cluster CA and any retired ones (a CA rotation keeps old proofs good). */
  cas: readonly X509Certificate[];
  /** Without TLS: the HMAC key of votes; null with TLS. */
  macKey: Buffer | null;
  /** A certificate's key and the machine it names if the cluster's CAs issued it (certifiedMachine; the shell caches it): null if it is no certificate. */
  certificate(der: Buffer): { publicKey: KeyObject; machine: string | null } | null;
}

/** The subject a machine's certificate carries (certificate-authority.ts). */
export function machineSubject(machine: string): string {
  return `CN=ftchat machine ${machine}`;
}

/** The machine a certificate from the cluster's CA names, or null. */
export function certifiedMachine(cert: X509Certificate, cas: readonly X509Certificate[]): string | null {
  const m = /^CN=ftchat machine ([^\n,]+)$/.exec(cert.subject.trim());
  if (!m || !cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) return null;
  return m[1];
}

/** Null if `vote` is `machine`'s valid vote for `value` at `ballot`, else why not (a proposer checks each as it comes). */
export function voteError(machine: string, vote: string, value: NameValue, ballot: Ballot, trust: ProofTrust): string | null {
  return voteMessageError(machine, vote, voteMessage(value, ballot), trust);
}

function voteMessageError(machine: string, vote: string, message: Buffer, trust: ProofTrust): string | null {
  const [certText, sigText, ...rest] = vote.split('.');
  if (rest.length > 0 || sigText === undefined) return `${machine}'s vote is malformed`;
  const sig = Buffer.from(sigText, 'base64url');
  if (trust.macKey) {
    const want = Buffer.from(macVote(trust.macKey, machine, message).slice(1), 'base64url');
    return certText === '' && sig.length === want.length && timingSafeEqual(sig, want) ? null : `${machine}'s vote does not verify`;
  }
  const cert = trust.certificate(Buffer.from(certText, 'base64url'));
  if (!cert) return `${machine}'s vote carries no certificate`;
  if (cert.machine !== machine) return `${machine}'s vote carries a certificate that is not the cluster CA's for ${machine}`;
  return verifyWith(cert.publicKey, message, sig) ? null : `${machine}'s vote does not verify`;
}

function verifyWith(key: KeyObject, message: Buffer, sig: Buffer): boolean {
  try {
    return verify('sha256', message, key, sig);
  } catch {
    return false;
  }
}

/** Null if `proof` proves that a majority of the cluster's machines settled `value`, else why not (one line). */
export function proofError(proof: unknown, value: NameValue, trust: ProofTrust): string | null {
  const p = decodeProof(proof);
  if (!p) return 'not a proof';
  const message = voteMessage(value, p.ballot);
  const voters = new Set<string>();
  for (const { machine, vote } of p.votes) {
    if (!trust.machines.includes(machine) || voters.has(machine)) return `a vote of ${machine}, not one machine of the cluster once`;
    const bad = voteMessageError(machine, vote, message, trust);
    if (bad) return bad;
    voters.add(machine);
  }
  const needed = majority(trust.machines.length);
  return voters.size >= needed ? null : `${voters.size} votes, a majority is ${needed}`;
}
