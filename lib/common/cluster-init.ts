/**
 * `fbs init`: the cluster's certificate authority, one certificate per machine and a
 * random cluster secret, written to the config's TLS directory (tls/ beside it):
 * ca.crt, ca.key, <machine>.crt, <machine>.key, secret; files 0600, the dir 0700.
 * The certificates are made in certificate-authority.ts, loaded only here, when files
 * are issued, so that a server child does not load the certificate library.
 *
 * The directory is built under a temp name and renamed into place in one step, so
 * machines of a loopback cluster started at once (each running this on first start)
 * never see half a directory, and the first one's CA is the one they all use.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigError, loadConfig, type ClusterConfig } from './config';
import { machineTlsFiles, tlsFiles, transportVerdict, type TransportVerdict } from './transport-security';
import { retiredCaDir } from './name-trust';

export class AlreadyInitialised extends ConfigError {}

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
  const { issueClusterFiles } = await import('./certificate-authority');
  const files = await issueClusterFiles(config);
  const tmp = mkdtempSync(join(dirname(dir), `.${basename(dir)}-`));
  try {
    chmodSync(tmp, 0o700);
    for (const [name, text] of files) writeFileSync(join(tmp, name), text, { mode: 0o600 });
    if (force) keepRetiredCas(dir, tmp);
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
 * A CA replaced by `--force` is kept in the new directory's retired/ (certificates
 * only: public), with those it had retired, so the proofs of names settled under it
 * stay good (name-trust.ts); it is no longer trusted for TLS.
 */
function keepRetiredCas(oldDir: string, newDir: string): void {
  const old = [tlsFiles(oldDir).ca];
  if (existsSync(retiredCaDir(oldDir))) old.push(...readdirSync(retiredCaDir(oldDir)).filter((n) => n.endsWith('.crt')).map((n) => join(retiredCaDir(oldDir), n)));
  for (const file of old.filter((f) => existsSync(f))) {
    const pem = readFileSync(file);
    mkdirSync(retiredCaDir(newDir), { recursive: true, mode: 0o700 });
    writeFileSync(join(retiredCaDir(newDir), `ca-${createHash('sha256').update(pem).digest('hex').slice(0, 16)}.crt`), pem, { mode: 0o600 });
  }
}

/**
 * Before `machines` start on this host: a loopback cluster's first start runs `fbs
 * init` itself; a set-up that is not safe (transportVerdict) is refused with one line
 * (ConfigError). Returns the config as it reads after any init (its secret is new).
 */
export async function ensureTransport(config: ClusterConfig, machines: string[], say?: (line: string) => void): Promise<ClusterConfig> {
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
    await initCluster(config).then(
      (files) => say?.(`TLS set up (first start): a certificate authority, each machine's certificate and a secret, ${files.length} files in ${config.tlsDir}`),
      (err: unknown) => {
        if (!(err instanceof AlreadyInitialised)) throw err;
      },
    );
    config = loadConfig(config.file);
    verdict = judge(config);
  }
  if (verdict.action !== 'start') throw new ConfigError(`cannot start: ${verdict.action === 'refuse' ? verdict.reason : 'TLS set-up did not complete'}`);
  return config;
}
