/**
 * TLS on real processes over loopback: a client that does not hold the cluster's CA
 * certificate (another CA's, or none: plaintext) cannot talk to a server, and a
 * machine whose certificate another CA issued is refused by its peers both ways: its
 * pulls fail, theirs from it fail, nothing replicates to it, and the logs say why.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { initCluster } from '../../lib/common/cluster-init';
import { loadConfig, type ClusterConfig } from '../../lib/common/config';
import { ftchatProto } from '../../lib/common/proto';
import { secretMetadata } from '../../lib/common/secret';
import { tlsFiles, userChannelCredentials } from '../../lib/common/transport-security';
import { ChatConnection } from '../../lib/client/connection';
import { runFbc } from '../helpers/fbc';
import { call, startCluster, testKeys, type TestCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';

/** The same cluster.json with its TLS files in a dir of its own, made by another `fbs init`: another CA. */
async function otherCaConfig(t: { teardown(fn: () => void): void }, cluster: TestCluster, dir = mkdtempSync(join(tmpdir(), 'ftchat-other-ca-'))): Promise<ClusterConfig> {
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'cluster.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(cluster.configFile, 'utf8')), tlsDir: join(dir, 'tls') }));
  await initCluster(loadConfig(file));
  return loadConfig(file);
}

function connect(address: string, credentials: grpc.ChannelCredentials): Promise<grpc.ServiceError | null> {
  const P = ftchatProto();
  const client = new P.ftchat.Chat(address, credentials, { 'grpc.use_local_subchannel_pool': 1 });
  return new Promise((resolve) =>
    // Challenge: the one call that needs no key, so a refusal here is the transport's.
    client.Challenge({ user: 'tlsprobe' }, { deadline: Date.now() + 10_000 }, (err) => {
      client.close();
      resolve(err);
    }),
  );
}

t.test('a client without the cluster CA is refused; with it, it connects', async (t) => {
  const cluster = await startCluster({ workers: 1, guardians: 1 });
  t.teardown(() => cluster.teardown());
  const address = cluster.address();
  t.equal(await connect(address, userChannelCredentials(loadConfig(cluster.configFile))), null, "the cluster's CA: connected");

  const other = await otherCaConfig(t, cluster);
  const wrongCa = await connect(address, userChannelCredentials(other));
  t.equal(wrongCa?.code, grpc.status.UNAVAILABLE, "another CA's certificate: refused");
  t.match(wrongCa?.details, /certificate/, 'the failure names the certificate');
  const plain = await connect(address, grpc.credentials.createInsecure());
  t.equal(plain?.code, grpc.status.UNAVAILABLE, 'plaintext: refused');

  // A certificate our CA refused is refused again on a retry: the client gives up after one
  // round of its servers, not after its whole budget (here ten minutes).
  const conn = new ChatConnection(testKeys.identity('alice'), [address], userChannelCredentials(other), { totalMs: 600_000 });
  t.teardown(() => conn.close());
  let outcome: string | null = null;
  void conn.connect().then(() => (outcome = 'connected'), (err: Error) => (outcome = err.message));
  const gaveUp = await waitFor('the client with another CA to give up', () => outcome, 30_000);
  t.match(gaveUp, /^no server reachable .*TLS failed .*certificate/, 'it gave up on the certificate, well within its budget');

  const r = await runFbc(t, ['-u', 'alice', '-s', address, '-c', other.file], ['list']);
  t.equal(r.code, 1, 'fbc with another CA exits 1');
  t.equal(r.err.length, 1, 'with one line');
  t.match(r.err[0], new RegExp(`^error: no server reachable \\(tried ${address}\\): TLS failed \\(.*certificate.*\\); is the cluster's CA certificate the one the config names\\?$`));
});

t.test('a machine whose certificate comes from another CA is refused by its peers', async (t) => {
  const rogueDir = mkdtempSync(join(tmpdir(), 'ftchat-rogue-'));
  const rogueConfig = join(rogueDir, 'cluster.json');
  const cluster = await startCluster({ machines: ['m1', 'm2', 'm3'], workers: 1, guardians: 1, startMachines: false, launch: { m3: { config: rogueConfig } } });
  t.teardown(() => cluster.teardown());
  const rogue = await otherCaConfig(t, cluster, rogueDir);
  t.equal(rogue.file, rogueConfig);
  for (const m of ['m1', 'm2', 'm3']) await cluster.start(m);

  const m1 = cluster.client('m1');
  await call(m1, 'Connect', { user: 'alice' });
  await call(m1, 'Post', { user: 'alice', id: 'tls-1', text: 'only for machines of the cluster' });
  const posted = (dump: string): boolean => dump.includes('only for machines of the cluster');
  // The machines with the cluster's certificates replicate: m2 gets the post.
  await t.resolves(waitForDump(cluster, 'm2', posted), 'm2 (cluster CA) has the post');

  // Both ways refused at TLS, and each side's replicator says why.
  const refused = (machine: string, peer: string) =>
    cluster.waitForLog(`${machine}'s replicator failing to pull from ${peer} at TLS`, (l) =>
      l.machine === machine && l.role === 'replicator' && l.peer === peer && /certificate/.test(String(l.reason)),
    );
  const [m1Says, m3Says] = await Promise.all([refused('m1', 'm3'), refused('m3', 'm1')]);
  t.match(m1Says.msg, /cannot pull from peer/, `m1: ${m1Says.reason}`);
  t.match(m3Says.msg, /cannot pull from peer/, `m3: ${m3Says.reason}`);
  await refused('m3', 'm2');
  t.notOk(posted(await cluster.dump('m3')), 'm3 (another CA) has not got the post');

  // The peer port itself requires a client certificate from the cluster CA: m3's, trusted as a server, is still refused.
  const config = loadConfig(cluster.configFile);
  const ca = readFileSync(tlsFiles(config.tlsDir).ca);
  const rogueFiles = tlsFiles(rogue.tlsDir);
  const pull = async (credentials: grpc.ChannelCredentials): Promise<grpc.ServiceError | null> => {
    const P = ftchatProto();
    const client = new P.ftchat.Replication(cluster.peerAddress('m1'), credentials);
    t.teardown(() => client.close());
    const stream = client.Pull({ from: 'm2', vector: { seqs: {} } }, secretMetadata(config.secret), { deadline: Date.now() + 10_000 });
    return new Promise((resolve) => {
      stream.on('data', () => {
        stream.cancel();
        resolve(null);
      });
      stream.on('error', (err: grpc.ServiceError) => resolve(err.code === grpc.status.CANCELLED ? null : err));
    });
  };
  const rogueCert = await pull(grpc.credentials.createSsl(ca, readFileSync(rogueFiles.key('m3')), readFileSync(rogueFiles.cert('m3'))));
  t.equal(rogueCert?.code, grpc.status.UNAVAILABLE, "a client certificate from another CA: m1's peer port refuses");
  const noCert = await pull(grpc.credentials.createSsl(ca));
  t.equal(noCert?.code, grpc.status.UNAVAILABLE, "no client certificate: m1's peer port refuses");
  const own = await pull(grpc.credentials.createSsl(ca, readFileSync(tlsFiles(config.tlsDir).key('m2')), readFileSync(tlsFiles(config.tlsDir).cert('m2'))));
  t.equal(own, null, "m2's certificate: m1's peer port serves");
});

async function waitForDump(cluster: TestCluster, machine: string, pred: (dump: string) => boolean): Promise<void> {
  await waitFor(`${machine}'s dump`, async () => pred(await cluster.dump(machine)), 60_000, 200);
}
