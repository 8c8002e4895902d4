/**
 * `fbs init`: the cluster's certificate authority, one certificate per machine and a
 * random cluster secret, written to the config's TLS directory (tls/ beside it):
 * ca.crt, ca.key, <machine>.crt, <machine>.key, secret; files 0600, the dir 0700.
 *
 * Certificates come from @peculiar/x509 on node's webcrypto, not hand-made ASN.1.
 * Keys are ECDSA P-256: every TLS stack (OpenSSL under grpc-js, Go, Java, browsers)
 * takes them in TLS 1.2 and 1.3, while Ed25519 certificates are TLS 1.3-only and
 * unsupported in several clients another language might bring.
 *
 * The directory is built under a temp name and renamed into place in one step, so
 * machines of a loopback cluster started at once (each running this on first start)
 * never see half a directory, and the first one's CA is the one they all use.
 */
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it loaded first
import { randomBytes, webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { basename, dirname, join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { ConfigError, loadConfig, type ClusterConfig } from './config';
import { machineTlsFiles, tlsFiles, transportVerdict, type TransportVerdict } from './transport-security';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const YEAR_MS = 365 * 24 * 3600 * 1000;
/** Renewal means `fbs init --force` and copying the files again, so certificates last. */
const VALID_YEARS = 10;
const NOT_BEFORE_SLACK_MS = 30 * 24 * 3600 * 1000;
/** 32 random bytes, the least transportVerdict takes off loopback. */
const SECRET_BYTES = 32;

export class AlreadyInitialised extends ConfigError {}

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

/**
 * Writes a new TLS directory for the config. Refuses (AlreadyInitialised) when one
 * holds a CA already, unless `force`: replacing a CA silently would cut every
 * machine and client holding the old one off the cluster. Returns the files written.
 */
export async function initCluster(config: ClusterConfig, force = false): Promise<string[]> {
  const dir = config.tlsDir;
  if (existsSync(tlsFiles(dir).ca) && !force) {
    throw new AlreadyInitialised(`${dir} already holds a cluster CA; not replacing it (fbs init --force makes a new CA, certificates and secret)`);
  }
  const files = await issueClusterFiles(config);
  const tmp = mkdtempSync(join(dirname(dir), `.${basename(dir)}-`));
  try {
    chmodSync(tmp, 0o700);
    for (const [name, text] of files) writeFileSync(join(tmp, name), text, { mode: 0o600 });
    if (force) rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new AlreadyInitialised(`${dir} was created meanwhile; not replacing it`);
      throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return [...files.keys()].map((name) => join(dir, name));
}

/**
 * Before `machines` start on this host: a loopback cluster's first start runs `fbs
 * init` itself; a set-up that is not safe (transportVerdict) is refused with one line
 * (ConfigError). Returns the config as it reads after any init (its secret is new).
 */
export async function ensureTransport(config: ClusterConfig, machines: string[]): Promise<ClusterConfig> {
  const judge = (c: ClusterConfig): TransportVerdict =>
    transportVerdict({
      hosts: Object.values(c.machines).map((m) => m.host),
      tls: c.tls,
      secret: c.secret,
      missing: [...new Set(machines.flatMap((m) => machineTlsFiles(c.tlsDir, m)))].filter((f) => !existsSync(f)),
      tlsDirExists: existsSync(c.tlsDir),
    });
  let verdict = judge(config);
  if (verdict.action === 'init') {
    // Another machine of this host may win the race: then its files are the cluster's.
    await initCluster(config).catch((err: unknown) => {
      if (!(err instanceof AlreadyInitialised)) throw err;
    });
    config = loadConfig(config.file);
    verdict = judge(config);
  }
  if (verdict.action !== 'start') throw new ConfigError(`cannot start: ${verdict.action === 'refuse' ? verdict.reason : 'TLS set-up did not complete'}`);
  return config;
}
