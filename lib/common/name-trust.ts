/**
 * The keys behind name proofs (core/name-proof.ts), read from the files `fbs init`
 * writes: a machine votes with its TLS key, and every proof is checked against the
 * cluster's CA, and the CAs it replaced (tls/retired/*.crt: a CA rotation keeps the
 * proofs made before it good). Without TLS, votes are MACs under a key derived from
 * the cluster secret.
 */
import { createHash, createPrivateKey, hkdfSync, sign, X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { certifiedMachine, macVote, voteMessage, type ProofTrust } from '../core/name-proof';
import type { Ballot, NameValue } from '../core/name-ballot';
import type { ClusterConfig } from './config';
import { tlsFiles } from './transport-security';

/** Where `fbs init --force` keeps the CA certificates it replaced. */
export function retiredCaDir(tlsDir: string): string {
  return join(tlsDir, 'retired');
}

function voteMacKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'ftchat', 'ftchat-name-vote-v1', 32));
}

function readCas(tlsDir: string): X509Certificate[] {
  const retired = (() => {
    try {
      return readdirSync(retiredCaDir(tlsDir)).filter((n) => n.endsWith('.crt')).map((n) => join(retiredCaDir(tlsDir), n));
    } catch {
      return [];
    }
  })();
  return [tlsFiles(tlsDir).ca, ...retired].flatMap((file) => {
    try {
      return [new X509Certificate(readFileSync(file))];
    } catch {
      return [];
    }
  });
}

/** The cluster's trust roots for proofs; certificates met in proofs are parsed once. */
export function proofTrust(config: ClusterConfig): ProofTrust {
  const cas = config.tls ? readCas(config.tlsDir) : [];
  const parsed = new Map<string, ReturnType<ProofTrust['certificate']>>();
  return {
    machines: Object.keys(config.machines),
    cas,
    macKey: config.tls ? null : voteMacKey(config.secret),
    certificate(der) {
      const id = createHash('sha256').update(der).digest('base64url');
      if (!parsed.has(id)) {
        if (parsed.size > 1_000) parsed.clear(); // a peer sending junk certificates cannot grow it
        parsed.set(id, certificateOf(der, cas));
      }
      return parsed.get(id) ?? null;
    },
  };
}

/** A certificate's key and the machine the cluster's CAs certify it for; null if it is no certificate. */
function certificateOf(der: Buffer, cas: X509Certificate[]): ReturnType<ProofTrust['certificate']> {
  try {
    const cert = new X509Certificate(der);
    return { publicKey: cert.publicKey, machine: certifiedMachine(cert, cas) };
  } catch {
    return null;
  }
}

/** How `machine` signs its votes. */
export function voteSigner(config: ClusterConfig, machine: string): (value: NameValue, ballot: Ballot) => string {
  if (!config.tls) {
    const key = voteMacKey(config.secret);
    return (value, ballot) => macVote(key, machine, voteMessage(value, ballot));
  }
  const files = tlsFiles(config.tlsDir);
  const key = createPrivateKey(readFileSync(files.key(machine)));
  const cert = new X509Certificate(readFileSync(files.cert(machine))).raw.toString('base64url');
  return (value, ballot) => `${cert}.${sign('sha256', voteMessage(value, ballot), key).toString('base64url')}`;
}
