/**
 * `fbs init` and the start-up check, as an operator meets them (real `bin/fbs`
 * processes, real files): the CA, one certificate per machine for its host and
 * loopback, a strong secret, owner-only modes; a second init refuses to replace the
 * CA; a machine of a non-loopback config refuses to start with the default secret
 * or without the TLS files, in one line and a non-zero exit, before binding anything.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DEFAULT_SECRET } from '../../lib/common/transport-security';
import { FBS } from '../helpers/server';
import { ownChildren } from '../helpers/reaper';

ownChildren();

function fbs(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [FBS, ...args], { timeout: 60_000 }, (err, out, errOut) =>
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, out, err: errOut }),
    ),
  );
}

function tempConfig(t: { teardown(fn: () => void): void }, hosts: Record<string, string>, extra: object = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'ftchat-init-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const machines = Object.fromEntries(Object.entries(hosts).map(([m, host], i) => [m, { host, port: 1 + i, adminPort: 11 + 10 * i }]));
  const file = join(dir, 'cluster.json');
  writeFileSync(file, JSON.stringify({ machines, dataDir: join(dir, 'data'), ...extra }));
  return file;
}

t.test('fbs init writes the CA, a certificate per machine for its host and loopback, and a strong secret, owner-only', async (t) => {
  const config = tempConfig(t, { m1: '10.1.2.3', m2: 'chat2.example', m3: '127.0.0.1' });
  const r = await fbs('init', '--config', config);
  t.equal(r.code, 0, r.err);
  const dir = join(config, '..', 'tls');
  t.equal(statSync(dir).mode & 0o777, 0o700, 'tls/ is 0700');
  t.same(readdirSync(dir).sort(), ['ca.crt', 'ca.key', 'm1.crt', 'm1.key', 'm2.crt', 'm2.key', 'm3.crt', 'm3.key', 'secret']);
  for (const f of readdirSync(dir)) t.equal(statSync(join(dir, f)).mode & 0o777, 0o600, `${f} is 0600`);
  t.match(r.out, /wrote 9 files \(owner-only\) in .*tls: ca\.crt, ca\.key/);

  const ca = new X509Certificate(readFileSync(join(dir, 'ca.crt')));
  t.ok(ca.ca, 'the CA certificate is a CA');
  t.equal(ca.publicKey.asymmetricKeyType, 'ec');
  const cert = (m: string): X509Certificate => new X509Certificate(readFileSync(join(dir, `${m}.crt`)));
  for (const m of ['m1', 'm2', 'm3']) {
    t.ok(cert(m).verify(ca.publicKey), `${m}'s certificate is signed by the CA`);
    t.ok(cert(m).checkIssued(ca), `${m}'s certificate names the CA as its issuer`);
    t.notOk(cert(m).ca, `${m}'s certificate is not a CA`);
    t.ok(cert(m).checkIP('127.0.0.1') && cert(m).checkHost('localhost'), `${m}'s certificate covers loopback`);
  }
  t.ok(cert('m1').checkIP('10.1.2.3'), "m1's certificate covers its address");
  t.notOk(cert('m1').checkIP('10.1.2.4'), "m1's certificate does not cover another address");
  t.ok(cert('m2').checkHost('chat2.example'), "m2's certificate covers its host name");
  t.notOk(cert('m1').checkHost('chat2.example'), "m1's certificate does not cover m2's name");
  const secret = readFileSync(join(dir, 'secret'), 'utf8').trim();
  t.ok(Buffer.from(secret, 'base64url').length >= 32, 'the secret holds 32 random bytes or more');

  const again = await fbs('init', '--config', config);
  t.equal(again.code, 2, 'a second init exits 2');
  t.match(again.err, /^fbs: .*tls already holds a cluster CA; not replacing it \(fbs init --force/);
  t.equal(again.err.trim().split('\n').length, 1, 'in one line');
  t.ok(new X509Certificate(readFileSync(join(dir, 'ca.crt'))).verify(ca.publicKey), 'the CA is unchanged');

  const forced = await fbs('init', '--force', '--config', config);
  t.equal(forced.code, 0, forced.err);
  t.notOk(new X509Certificate(readFileSync(join(dir, 'ca.crt'))).verify(ca.publicKey), '--force makes a new CA');
  t.not(readFileSync(join(dir, 'secret'), 'utf8').trim(), secret, 'and a new secret');
  const retired = readdirSync(join(dir, 'retired'));
  t.same(retired.map((f) => new X509Certificate(readFileSync(join(dir, 'retired', f))).verify(ca.publicKey)), [true], 'the old CA certificate is kept in retired/, so names settled under it stay proved');
});

t.test('a machine of a non-loopback config refuses to start with the default secret or without TLS, in one line', async (t) => {
  const hosts = { m1: '10.1.2.3', m2: '10.1.2.4' };
  const weak = [
    ['the default secret', { secret: DEFAULT_SECRET }, /the cluster secret is the well-known default and machine host 10\.1\.2\.3 is not loopback: run fbs init/],
    ['an empty secret', { secret: '' }, /the cluster secret is empty/],
    ['a short secret', { secret: 'x'.repeat(31) }, /the cluster secret is 31 bytes, fewer than 32/],
    ['no TLS files', { secret: 'x'.repeat(40) }, /TLS files missing: .*ca\.crt, .*m1\.crt, .*m1\.key; machine host 10\.1\.2\.3 is not loopback/],
    ['TLS turned off', { secret: 'x'.repeat(40), tls: false }, /"tls": false is allowed on loopback only/],
  ] as const;
  for (const [what, extra, why] of weak) {
    const r = await fbs('start', '--machine', 'm1', '--config', tempConfig(t, hosts, extra));
    t.equal(r.code, 2, `${what}: exit code 2`);
    t.match(r.err, new RegExp(`^fbs: cannot start: ${why.source}`), what);
    t.equal(r.err.trim().split('\n').length, 1, `${what}: one line`);
  }
});
