/**
 * A stolen machine's damage is bounded and visible (issue 18.4): m3 is in the config
 * but never started; its peer port is served by the test with m3's own certificate,
 * key and the cluster secret, as whoever stole m3's files could.
 * - A create with an ancient timestamp for a name a majority settled cannot take it
 *   over, not even carrying a proof made with m3's key alone; the claim is logged with
 *   its origin and machine on every machine, and dumps agree without it.
 * - `fbs claims <name>` lists every claim, the machine that made it and which decides.
 * - A peer whose certificate names m3 cannot pull as m1: refused and logged.
 */
import { generateKeyPairSync, createPrivateKey, sign, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { fingerprint, keyText } from '../../lib/core/identity';
import { encodeProof, voteMessage } from '../../lib/core/name-proof';
import { loadConfig } from '../../lib/common/config';
import { ftchatProto } from '../../lib/common/proto';
import { secretMetadata } from '../../lib/common/secret';
import { machineChannelCredentials, tlsFiles } from '../../lib/common/transport-security';
import { Keyring } from '../../lib/client/identity';
import { encode, type Field } from '../helpers/raw-grpc';
import { call, converged, dumpEvents, FBS, ownConnection, startCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { protoRoot } from '../fuzz/wire-arbitraries';
import { servePeerLog } from '../fuzz/fake-peer';

/** An Event message: id, origin, seq, kind, room, author, text, hlc, key, proof. */
function event(e: { id: string; origin: string; seq: number; kind: string; room: string; author: string; text?: string; wall: number; key?: string; proof?: string }): Buffer {
  const fields: Field[] = [[1, e.id], [2, e.origin], [3, e.seq], [4, e.kind], [5, e.room], [6, e.author], [8, [[1, e.wall], [2, 0]]]];
  if (e.text) fields.push([7, e.text]);
  if (e.key) fields.push([9, e.key]);
  if (e.proof) fields.push([10, e.proof]);
  return encode(fields);
}

t.test("a stolen machine cannot take over a settled name, whatever its create's timestamp, and is seen trying", async (t) => {
  const cluster = await startCluster({ machines: ['m1', 'm2', 'm3'], workers: 1, guardians: 1, startMachines: false });
  t.teardown(() => cluster.teardown());
  const config = loadConfig(cluster.configFile);
  await cluster.start('m1');
  await cluster.start('m2');
  const owner = new Keyring();
  const client = ownConnection(t, cluster.address('m1'), owner);
  await call(client, 'Connect', { user: 'victim' });
  await call(client, 'Post', { user: 'victim', text: 'the real victim' });
  await converged(cluster, ['m1', 'm2']);

  // The thief: m3's files, a key of its own, and a proof with m3's vote and one it signs for m1 with m3's key.
  const thief = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const value = { name: 'victim', key: keyText(thief) };
  const ballot = { round: 1, by: 'm3.abcdef' };
  const m3Key = createPrivateKey(readFileSync(tlsFiles(config.tlsDir).key('m3')));
  const m3Cert = new X509Certificate(readFileSync(tlsFiles(config.tlsDir).cert('m3'))).raw.toString('base64url');
  const vote = `${m3Cert}.${sign('sha256', voteMessage(value, ballot), m3Key).toString('base64url')}`;
  const proof = encodeProof(ballot, [{ acceptor: 'm3', vote }, { acceptor: 'm1', vote }]);
  const origin = 'm3.evil00.w0';
  const peer = await servePeerLog(`127.0.0.1:${config.machines.m3.peerPort}`, config, 'm3', protoRoot(), [
    event({ id: 'create/victim', origin, seq: 1, kind: 'create', room: 'victim', author: 'victim', text: value.key, key: fingerprint(thief), wall: 1 }),
    event({ id: 'create/victim', origin, seq: 2, kind: 'create', room: 'victim', author: 'victim', text: value.key, key: fingerprint(thief), proof, wall: 2 }),
    event({ id: 'post/victim/forged', origin, seq: 3, kind: 'post', room: 'victim', author: 'victim', text: 'I am the victim now', key: fingerprint(thief), wall: 3 }),
  ], { end: true });
  t.teardown(() => peer.close());

  const passed = await waitFor("both machines log the thief's claims as passed over", () => {
    const lines = cluster.logs.filter((l) => l.msg === "name claim passed over: the room is another key's" && l.origin === origin);
    return new Set(lines.map((l) => `${l.machine} ${(l.hlc as { wall: number }).wall}`)).size === 4 && lines;
  }, 60_000);
  t.match(passed[0], { room: 'victim', origin, madeBy: 'm3', key: fingerprint(thief), certified: true }, 'each claim logged with the machine that made it');
  const dump = await waitFor("the thief's events stored on both", async () => {
    const d = await converged(cluster, ['m1', 'm2']);
    return peer.stats.pulls >= 2 && d;
  });
  const events = dumpEvents(dump);
  t.same(events.filter((e) => e.room === 'victim').map((e) => `${e.kind} ${e.text}`), [`create ${keyText(owner.identity('victim').publicKey)}`, 'post the real victim'], "the owner's create and post only: nothing of the thief's counts");
  const ownerOnM2 = ownConnection(t, cluster.address('m2'), new Keyring(() => owner.identity('victim')));
  t.ok((await call(ownerOnM2, 'Connect', { user: 'victim' })).token, 'the owner still connects, on either machine');
  for (const c of [client, ownerOnM2]) {
    const { events: timeline } = await call(c, 'Timeline', { user: 'victim' });
    t.same(timeline.map((e: { text: string }) => e.text), ['the real victim'], "the owner's timeline does not show the thief's post");
  }

  // The operator's view: every claim of the name, which machine made it, and which one decides.
  const claims = JSON.parse(execFileSync(process.execPath, [FBS, 'claims', 'Victim', '--machine', 'm2', '--json', '--config', cluster.configFile], { encoding: 'utf8' }));
  t.same(
    claims.map((c: { madeBy: string; proof: string; voters: string[]; decides: boolean; key: string }) => [c.madeBy, c.proof, c.voters.length, c.decides, c.key === fingerprint(thief)]).sort(),
    [['m1', 'valid', 2, true, false], ['m3', 'invalid', 2, false, true], ['m3', 'none', 0, false, true]],
    "fbs claims (any spelling) lists the owner's proved claim and the thief's two, made by m3, passed over",
  );

  // m3's certificate speaking as m1: refused, and logged.
  const P = ftchatProto();
  const asM3 = new P.ftchat.Replication(`127.0.0.1:${config.machines.m2.peerPort}`, machineChannelCredentials(config, 'm3'));
  t.teardown(() => asM3.close());
  const refused = await new Promise<grpc.ServiceError>((resolve) => {
    const pull = asM3.Pull({ from: 'm1', vector: { seqs: {} } }, secretMetadata(config.secret));
    pull.on('error', resolve);
    pull.on('data', () => undefined);
  });
  t.equal(refused.code, grpc.status.PERMISSION_DENIED);
  t.equal(refused.details, 'the caller claims to be m1 but its certificate names m3');
  await cluster.waitForLog('m2 logs the false claim', (l) => l.machine === 'm2' && l.msg === 'refused a peer claiming another machine' && l.claimed === 'm1');
});
