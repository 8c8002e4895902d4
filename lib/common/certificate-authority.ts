/**
 * The cluster's certificate authority and each machine's certificate, as PEM text
 * (what `fbs init` writes; see cluster-init.ts).
 *
 * Certificates come from @peculiar/x509 on node's webcrypto, not hand-made ASN.1.
 * Keys are ECDSA P-256: every TLS stack (OpenSSL under grpc-js, Go, Java, browsers)
 * takes them in TLS 1.2 and 1.3, while Ed25519 certificates are TLS 1.3-only and
 * unsupported in several clients another language might bring.
 *
 * Only `fbs init` and a loopback cluster's first start load this module: @peculiar/x509
 * and its dependencies take 60-200 ms to load, which every revived child paid when
 * they were imported with the rest.
 */
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it loaded first
import { randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { basename } from 'node:path';
import * as x509 from '@peculiar/x509';
import type { ClusterConfig } from './config';
import { tlsFiles } from './transport-security';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const YEAR_MS = 365 * 24 * 3600 * 1000;
/** Renewal means `fbs init --force` and copying the files again, so certificates last. */
const VALID_YEARS = 10;
const NOT_BEFORE_SLACK_MS = 30 * 24 * 3600 * 1000;
/** 32 random bytes, the least transportVerdict takes off loopback. */
const SECRET_BYTES = 32;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

function toPem(der: ArrayBuffer, label: string): string {
  return x509.PemConverter.encode(der, label);
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  return toPem(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function serial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f; // a positive INTEGER
  return b.toString('hex');
}

/** A machine is reached at its host, and by processes of its own host at loopback. */
function subjectAltNames(host: string): x509.JsonGeneralName[] {
  const names = new Set([host, '127.0.0.1', '::1', 'localhost']);
  return [...names].map((n) => ({ type: isIP(n) ? 'ip' : 'dns', value: n }));
}

/** PEM text of every file to write, by name within the TLS directory. */
export async function issueClusterFiles(config: ClusterConfig): Promise<Map<string, string>> {
  const generate = (): Promise<webcrypto.CryptoKeyPair> => webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  // Machines' clocks may be hours apart (a wrong time zone: 14 h): a certificate must
  // already be valid on a machine whose clock lags the one that ran fbs init.
  const notBefore = new Date(Date.now() - NOT_BEFORE_SLACK_MS);
  const notAfter = new Date(Date.now() + VALID_YEARS * YEAR_MS);
  const caKeys = await generate();
  const caName = `CN=ftchat cluster CA ${serial().slice(0, 8)}`;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: caName,
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const files = new Map<string, string>([
    [basename(tlsFiles('.').ca), ca.toString('pem')],
    [basename(tlsFiles('.').caKey), await keyPem(caKeys.privateKey)],
  ]);
  for (const [id, m] of Object.entries(config.machines)) {
    const keys = await generate();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=ftchat machine ${id}`,
      issuer: ca.subject,
      notBefore,
      notAfter,
      signingKey: caKeys.privateKey,
      publicKey: keys.publicKey,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        // Every machine is a server (its ports) and a client (of the others' ports).
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension(subjectAltNames(m.host)),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
      ],
    });
    files.set(basename(tlsFiles('.').cert(id)), cert.toString('pem'));
    files.set(basename(tlsFiles('.').key(id)), await keyPem(keys.privateKey));
  }
  files.set(basename(config.secretFile), `${randomBytes(SECRET_BYTES).toString('base64url')}\n`);
  return files;
}
