/**
 * A name's proof (docs/names.md): the votes of a majority of the cluster's machines,
 * each signed with its TLS key and carrying its certificate from the cluster's CA
 * naming it. One machine cannot make one: not with its own vote twice, nor with a
 * vote it signs for another machine, nor with a certificate of another CA; a vote for
 * another key or spelling does not count. Made with the files `fbs init` writes.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCluster } from '../../lib/common/cluster-init';
import { parseConfig, type ClusterConfig } from '../../lib/common/config';
import { proofTrust, voteSigner } from '../../lib/common/name-trust';
import { encodeProof, proofError } from '../../lib/core/name-proof';

function config(dir: string, tls = true): ClusterConfig {
  const machines = Object.fromEntries(['m1', 'm2', 'm3'].map((m, i) => [m, { host: '127.0.0.1', port: 41000 + i, adminPort: 42000 + 10 * i }]));
  return parseConfig({ machines, tls, secret: 'a test secret that is long enough to pass' }, join(dir, 'cluster.json'));
}

t.test('a majority of machines, each voting once with its own certified key, proves a name; nothing less does', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ftchat-proof-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const c = config(dir);
  await initCluster(c);
  const trust = proofTrust(c);
  const value = { name: 'alice', key: `ed25519:${Buffer.alloc(32, 1).toString('base64')}` };
  const ballot = { round: 7, by: 'm1.abc' };
  const vote = (m: string, v = value, b = ballot): { acceptor: string; vote: string } => ({ acceptor: m, vote: voteSigner(c, m)(v, b) });
  t.equal(proofError(encodeProof(ballot, [vote('m1'), vote('m3')]), value, trust), null, 'two of three machines');
  t.equal(proofError(encodeProof(ballot, [vote('m1')]), value, trust), '1 votes, a majority is 2');
  t.equal(proofError(encodeProof(ballot, [vote('m1'), vote('m1')]), value, trust), 'a vote of m1, not one machine of the cluster once');
  t.equal(proofError(encodeProof(ballot, [vote('m1'), { acceptor: 'm2', vote: vote('m1').vote }]), value, trust), "m2's vote carries a certificate that is not the cluster CA's for m2", "m1 signing for m2");
  t.equal(proofError(encodeProof(ballot, [vote('m1'), vote('m2', { ...value, key: `ed25519:${Buffer.alloc(32, 2).toString('base64')}` })]), value, trust), "m2's vote does not verify", 'a vote for another key');
  t.equal(proofError(encodeProof(ballot, [vote('m1'), vote('m2', { ...value, name: 'Alice' })]), value, trust), "m2's vote does not verify", 'a vote for another spelling');
  t.equal(proofError(encodeProof(ballot, [vote('m1'), vote('m2', value, { round: 8, by: 'm1.abc' })]), value, trust), "m2's vote does not verify", 'a vote of another ballot');
  t.equal(proofError('p1.not-json', value, trust), 'not a proof');

  // Another cluster's CA: its machines' votes are not this cluster's, even under the same names.
  const other = mkdtempSync(join(tmpdir(), 'ftchat-proof-other-'));
  t.teardown(() => rmSync(other, { recursive: true, force: true }));
  const oc = config(other);
  await initCluster(oc);
  const foreign = (m: string): { acceptor: string; vote: string } => ({ acceptor: m, vote: voteSigner(oc, m)(value, ballot) });
  t.equal(proofError(encodeProof(ballot, [foreign('m1'), foreign('m2')]), value, trust), "m1's vote carries a certificate that is not the cluster CA's for m1");

  // A CA rotation keeps what was proved under the old CA good.
  const before = encodeProof(ballot, [vote('m1'), vote('m2')]);
  await initCluster(c, true);
  t.equal(proofError(before, value, proofTrust(c)), null, 'a proof made under the retired CA still verifies');
});

t.test('without TLS a vote is a MAC under the secret: it proves a holder of the secret voted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ftchat-proof-plain-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const c = config(dir, false);
  const value = { name: 'bob', key: `ed25519:${Buffer.alloc(32, 3).toString('base64')}` };
  const ballot = { round: 1, by: 'm2.def' };
  const votes = ['m2', 'm3'].map((m) => ({ acceptor: m, vote: voteSigner(c, m)(value, ballot) }));
  t.equal(proofError(encodeProof(ballot, votes), value, proofTrust(c)), null);
  t.equal(proofError(encodeProof(ballot, [votes[0], { acceptor: 'm1', vote: votes[1].vote }]), value, proofTrust(c)), "m1's vote does not verify");
});
