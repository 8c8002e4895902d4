/**
 * Which machine a peer is: the one its TLS certificate names (the cluster CA checked
 * the certificate in the handshake; `fbs init` writes "CN=ftchat machine <id>"), not
 * the one a request claims. A request naming another machine is refused, so one
 * machine's certificate cannot speak as another (README, Security).
 */
import type { AuthContext } from '@grpc/grpc-js/build/src/auth-context';

const SUBJECT = /^ftchat machine (.+)$/;

/** The machine a caller's certificate names; null without TLS or without such a certificate. */
export function certifiedPeer(call: { getAuthContext(): AuthContext | null }): string | null {
  const cn = call.getAuthContext()?.sslPeerCertificate?.subject?.CN;
  const m = typeof cn === 'string' ? SUBJECT.exec(cn) : null;
  return m ? m[1] : null;
}

/** Null if `claimed` is the caller's machine as far as the transport can tell, else why not (one line). */
export function claimError(claimed: string, call: { getAuthContext(): AuthContext | null }, tls: boolean): string | null {
  if (!tls) return null; // plaintext (loopback only): nothing to check against
  const named = certifiedPeer(call);
  if (named === claimed) return null;
  return `the caller claims to be ${claimed} but its certificate names ${named ?? 'no machine'}`;
}
