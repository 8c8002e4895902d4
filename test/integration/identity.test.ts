/**
 * Users are keys (issue 12), against real `fbs start` trees over real gRPC. The
 * client here speaks the protocol from its documentation alone (protos/ftchat.proto,
 * README "Security: identity"): a grpc-js client loaded from the proto and
 * node:crypto, nothing of lib/. It shows:
 * - a client without alice's key is refused on every Chat RPC, with no session
 *   (UNAUTHENTICATED) and with a session of its own (PERMISSION_DENIED);
 * - a session made on one machine works on another, also once the first is gone;
 * - an expired or tampered token is refused; the owner coming back is accepted;
 * - a second key for a name is refused with the one line, and fbc exits non-zero;
 * - a new name is refused while no majority can settle it (docs/names.md), and its
 *   create carries the proof once one can; a room from before keys goes to the first key;
 *   fbc makes its key on first use (0600 in a 0700 dir), reads it silently from a
 *   pipe after, and --key / --export-key carry it to another computer.
 */
import { createHmac, generateKeyPairSync, hkdfSync, sign, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import t from 'tap';
import { newConfigHome, runFbc } from '../helpers/fbc';
import { dumpEvents, outcome, REPO, startCluster, type TestCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';

// ---- A client written from the protocol's documentation ----

type Unary = (req: object, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: any) => void) => void;
interface RawChat extends grpc.Client {
  [method: string]: any;
}

const pkg = grpc.loadPackageDefinition(
  protoLoader.loadSync(join(REPO, 'protos', 'ftchat.proto'), { keepCase: true, longs: Number, defaults: true }),
) as any;

/** The cluster's files beside its config (README "Security"): its CA certificate and its secret. */
const tlsFile = (cluster: TestCluster, name: string): Buffer => readFileSync(join(dirname(cluster.configFile), 'tls', name));

/** A client of `machine`, trusting the cluster's CA as a user's client does (TLS: grpc-js and the CA file alone). */
function rawChat(t: { teardown(fn: () => void): void }, cluster: TestCluster, machine: string): RawChat {
  const c = new pkg.ftchat.Chat(cluster.address(machine), grpc.credentials.createSsl(tlsFile(cluster, 'ca.crt')), { 'grpc.use_local_subchannel_pool': 1 }) as RawChat;
  t.teardown(() => c.close());
  return c;
}

function unary(c: RawChat, method: string, req: object, md = new grpc.Metadata()): Promise<any> {
  return new Promise((resolve, reject) => (c[method] as Unary).call(c, req, md, (err, res) => (err ? reject(err) : resolve(res))));
}

function bearer(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

interface Person {
  privateKey: KeyObject;
  /** The raw 32-byte public key: the last 32 bytes of its SubjectPublicKeyInfo. */
  publicKey: Buffer;
}

function person(): Person {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32) };
}

/** The documented handshake: Challenge, sign "ftchat-connect-v1\n<user>\n<nonce>", Connect. */
async function connect(c: RawChat, user: string, p: Person): Promise<{ token: string; created: boolean; machine: string }> {
  const { nonce } = await unary(c, 'Challenge', { user });
  const signature = sign(null, Buffer.from(`ftchat-connect-v1\n${user}\n${nonce}`, 'utf8'), p.privateKey);
  return unary(c, 'Connect', { user, public_key: p.publicKey, nonce, signature });
}

/** A Subscribe's first answer: an item ('OK') or how the stream ended. */
function subscribeOutcome(c: RawChat, req: object, md: grpc.Metadata): Promise<string> {
  return new Promise((resolve) => {
    const s = c.Subscribe(req, md) as grpc.ClientReadableStream<unknown>;
    s.on('data', () => {
      resolve('OK');
      s.cancel();
    });
    s.on('error', (err: grpc.ServiceError) => resolve(`${grpc.status[err.code]}: ${err.details}`));
  });
}

/** Every Chat RPC that acts for a user, as `user`, with `md`. */
function everyRpc(c: RawChat, user: string, md: grpc.Metadata): Record<string, Promise<string>> {
  return {
    Join: outcome(unary(c, 'Join', { user, room: 'bob' }, md)),
    Leave: outcome(unary(c, 'Leave', { user, room: 'bob' }, md)),
    Post: outcome(unary(c, 'Post', { user, text: 'I am alice, honestly' }, md)),
    Timeline: outcome(unary(c, 'Timeline', { user }, md)),
    List: outcome(unary(c, 'List', { user }, md)),
    Poll: outcome(unary(c, 'Poll', { user }, md)),
    Subscribe: subscribeOutcome(c, { user }, md),
  };
}

const otherKey = (u: string): string => `PERMISSION_DENIED: ${u} belongs to another key: choose another name, or bring ${u}'s key file`;

// ---- The tests ----

let cluster: TestCluster;
t.before(async () => {
  cluster = await startCluster({ machines: ['m1', 'm2'], workers: 1, guardians: 1 });
});
t.teardown(() => cluster.teardown());

t.test('a client without alice\'s key is refused on every Chat RPC', async (t) => {
  const c = rawChat(t, cluster, 'm1');
  const alice = person();
  const mallory = person();
  await connect(c, 'bob', person());
  const { token } = await connect(c, 'alice', alice);
  // alice follows bob, so a Leave in her name would do something.
  t.equal(await outcome(unary(c, 'Join', { user: 'alice', room: 'bob' }, bearer(token))), 'OK', 'alice herself joins bob');

  for (const [rpc, p] of Object.entries(everyRpc(c, 'alice', new grpc.Metadata()))) {
    t.equal(await p, 'UNAUTHENTICATED: no session token: connect again', `${rpc} naming alice, without a session`);
  }
  const own = await connect(c, 'mallory', mallory);
  for (const [rpc, p] of Object.entries(everyRpc(c, 'alice', bearer(own.token)))) {
    t.equal(await p, "PERMISSION_DENIED: this session is mallory's: it cannot act for alice", `${rpc} naming alice, with mallory's session`);
  }
  t.equal(await outcome(connect(c, 'alice', mallory)), otherKey('alice'), "Connect as alice with mallory's key");

  // A signature by mallory's key cannot pass for alice's key either.
  const { nonce } = await unary(c, 'Challenge', { user: 'alice' });
  const forged = sign(null, Buffer.from(`ftchat-connect-v1\nalice\n${nonce}`), mallory.privateKey);
  t.equal(await outcome(unary(c, 'Connect', { user: 'alice', public_key: alice.publicKey, nonce, signature: forged })), 'UNAUTHENTICATED: signature does not verify with the given key');
  const bobsNonce = (await unary(c, 'Challenge', { user: 'bob' })).nonce;
  const replayed = sign(null, Buffer.from(`ftchat-connect-v1\nalice\n${bobsNonce}`), alice.privateKey);
  t.equal(await outcome(unary(c, 'Connect', { user: 'alice', public_key: alice.publicKey, nonce: bobsNonce, signature: replayed })), 'UNAUTHENTICATED: nonce not issued to this user by this cluster', "a nonce issued for bob");

  const timeline = await unary(c, 'Timeline', { user: 'alice' }, bearer(token));
  t.same(timeline.events.filter((e: { kind: string }) => e.kind === 'post'), [], 'nothing was posted as alice');
  t.equal(await outcome(unary(c, 'Leave', { user: '', room: 'bob' }, bearer(token))), 'OK', "an empty user field is the session's: alice still follows bob, and leaves");
});

t.test('a session made on one machine works on another, also once the first is gone', async (t) => {
  const m1 = rawChat(t, cluster, 'm1');
  const m2 = rawChat(t, cluster, 'm2');
  const carol = person();
  const session = await connect(m1, 'carol', carol);
  t.equal(session.machine, 'm1');
  const md = bearer(session.token);
  // Retried while carol's room has not reached m2 yet (a post with one id is stored once).
  const posted = await waitFor("carol's post through m2", () => unary(m2, 'Post', { user: 'carol', id: 'on-m2', text: 'from m2' }, md));
  t.equal(posted.event.origin.split('.')[0], 'm2', "m2 stored carol's post under m1's session");
  await cluster.killMachine('m1');
  const after = await unary(m2, 'Post', { user: 'carol', id: 'after-m1', text: 'm1 is gone' }, md);
  t.equal(after.event.author, 'carol', 'and still once m1 is gone');
  await cluster.start('m1');
});

t.test('an expired or tampered token is refused; the owner coming back with the key is accepted', async (t) => {
  const c = rawChat(t, cluster, 'm1');
  const dan = person();
  const { token } = await connect(c, 'dan', dan);
  const [v, body, mac] = token.split('.');

  // A token made with the cluster's key (which only machines hold) but expired: as the README documents it.
  const key = Buffer.from(hkdfSync('sha256', tlsFile(cluster, 'secret').toString('utf8').trim(), 'ftchat', 'ftchat-session-v1', 32));
  const payload = JSON.parse(Buffer.from(body, 'base64url').toString());
  const oldBody = Buffer.from(JSON.stringify({ ...payload, x: Date.now() - 1 })).toString('base64url');
  const expired = `v1.${oldBody}.${createHmac('sha256', key).update(`session\n${oldBody}`).digest('base64url')}`;
  t.equal(await outcome(unary(c, 'Post', { user: 'dan', text: 'late' }, bearer(expired))), 'UNAUTHENTICATED: session expired: connect again');

  const longer = Buffer.from(JSON.stringify({ ...payload, x: payload.x + 365 * 86_400_000 })).toString('base64url');
  t.equal(await outcome(unary(c, 'Post', { user: 'dan', text: 'x' }, bearer(`${v}.${longer}.${mac}`))), 'UNAUTHENTICATED: bad session token: connect again', 'a token whose expiry was moved');
  const asEve = Buffer.from(JSON.stringify({ ...payload, u: 'eve' })).toString('base64url');
  t.equal(await outcome(unary(c, 'Post', { user: 'eve', text: 'x' }, bearer(`${v}.${asEve}.${mac}`))), 'UNAUTHENTICATED: bad session token: connect again', 'a token renamed');
  t.equal(await outcome(unary(c, 'Post', { user: 'dan', text: 'x' }, bearer(`${v}.${body}.${mac.slice(1)}A`))), 'UNAUTHENTICATED: bad session token: connect again', 'a token whose MAC was changed');

  const back = rawChat(t, cluster, 'm1'); // a new connection, as a new process would have
  const again = await connect(back, 'dan', dan);
  t.equal(again.created, false, 'dan comes back');
  t.equal(await outcome(unary(back, 'Post', { user: 'dan', text: 'back again' }, bearer(again.token))), 'OK', 'and posts');
});

t.test('fbc: the key is made on first use and read silently after; a second key for the name is refused in one line', async (t) => {
  const servers = ['-s', cluster.address('m1'), '-c', cluster.configFile];
  const home = newConfigHome();
  const first = await runFbc(t, ['-u', 'erin', ...servers], ['quit'], home);
  t.equal(first.code, 0, 'the first run connects');
  const keyFile = join(home, 'ftchat', 'erin.key');
  t.equal(statSync(keyFile).mode & 0o777, 0o600, 'the key file is readable by its owner only');
  t.equal(statSync(join(home, 'ftchat')).mode & 0o777, 0o700, 'and so is its directory');
  t.match(readFileSync(keyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/, 'a PKCS#8 PEM');

  const piped = await runFbc(t, ['-u', 'erin', ...servers], ['join bob', 'chat', 'hi from a pipe', 'exit', 'leave'], home);
  t.equal(piped.code, 0, 'a piped session later');
  t.ok(piped.out.some((l) => l.includes('erin: hi from a pipe')), 'posts as erin');
  t.same(piped.err.filter((l) => /key/i.test(l)), [], 'and says nothing of keys');

  const stranger = newConfigHome();
  const refused = await runFbc(t, ['-u', 'erin', ...servers], ['chat', 'I am erin', 'exit'], stranger);
  t.not(refused.code, 0, 'someone else typing -u erin exits non-zero');
  t.same(refused.err, ["error: erin belongs to another key: choose another name, or bring erin's key file"], 'with the one line');

  const exported = await runFbc(t, ['-u', 'erin', '--export-key'], [], home);
  t.equal(exported.code, 0);
  t.equal(`${exported.out.join('\n')}\n`, readFileSync(keyFile, 'utf8'), '--export-key prints the key file');
  const moved = await runFbc(t, ['-u', 'erin', '--key', keyFile, ...servers], ['chat', 'from my new computer', 'exit'], stranger);
  t.equal(moved.code, 0, 'with --key FILE erin connects from the other config dir');
  t.ok(moved.out.some((l) => l.includes('erin: from my new computer')));

  const missing = await runFbc(t, ['-u', 'erin', '--key', join(stranger, 'nope.key'), ...servers], [], stranger);
  t.equal(missing.code, 2);
  t.same(missing.err, [`error: no key file at ${join(stranger, 'nope.key')}`]);

  // As ssh does: a key file other accounts can read is refused, with the command that fixes it.
  chmodSync(keyFile, 0o644);
  const open = await runFbc(t, ['-u', 'erin', ...servers], ['quit'], home);
  t.equal(open.code, 2, 'a world-readable key file: exit code 2');
  t.same(open.err, [`error: ${keyFile} can be read by other accounts (mode 0644): run chmod 600 ${keyFile}`], 'one line with the chmod it needs');
  chmodSync(keyFile, 0o600);
  t.equal((await runFbc(t, ['-u', 'erin', ...servers], ['quit'], home)).code, 0, 'after the chmod erin connects');
});

t.test('a new name is not granted while no majority of machines can settle it, and is once one can', async (t) => {
  const m1 = rawChat(t, cluster, 'm1');
  // With m2 down, m1 alone is no majority of two. (Not a paused replicator: its
  // supervisor replaces a silent one within seconds, faster than a name gives up.)
  await cluster.stop('m2');
  const zed = person();
  const refused = await outcome(connect(m1, 'zed', zed));
  t.match(refused, /^UNAVAILABLE: cannot settle the new name zed now: 1 of 2 machines answered, and a majority \(2\) must; users who exist already can still connect here$/);
  t.notOk(dumpEvents(await cluster.dump('m1')).some((e) => e.room === 'zed'), 'nothing of zed is stored');
  await cluster.start('m2');
  const granted = await connect(m1, 'zed', zed);
  t.ok(granted.created, 'granted once m2 answers again');
  const create = dumpEvents(await cluster.dump('m1')).find((e) => e.id === 'create/zed');
  t.equal(create?.text, `ed25519:${zed.publicKey.toString('base64')}`);
  t.match(create?.proof, /^p1\./, 'its create carries the proof');
});

t.test('a room from before keys is claimed by the first key that connects; names differing in case from before keep working', async (t) => {
  const old = await startCluster({ machines: ['m1'], workers: 1, guardians: 1, startMachines: false });
  t.teardown(() => old.teardown());
  const rooms = join(old.dir, 'data', 'm1', 'rooms');
  mkdirSync(rooms, { recursive: true });
  const created = (room: string, seq: number, text = ''): string =>
    `${JSON.stringify({ id: `create/${room}`, origin: 'm1.aaaaaa.w0', seq, kind: 'create', room, author: room, text, hlc: { wall: 1000 + seq, logical: 0 } })}\n`;
  writeFileSync(join(rooms, 'olduser.jsonl'), created('olduser', 1));
  // A pair from before names were unique without regard to case, each with its own key.
  const [upper, lower] = [person(), person()];
  writeFileSync(join(rooms, 'Pair.jsonl'), created('Pair', 2, `ed25519:${upper.publicKey.toString('base64')}`));
  writeFileSync(join(rooms, 'pair.jsonl'), created('pair', 3, `ed25519:${lower.publicKey.toString('base64')}`));
  await old.start('m1');

  const c = rawChat(t, old, 'm1');
  const [claimer, late] = [person(), person()];
  const claimed = await connect(c, 'olduser', claimer);
  t.equal(claimed.created, false, 'the room was there');
  t.equal(await outcome(unary(c, 'Post', { user: 'olduser', text: 'mine now' }, bearer(claimed.token))), 'OK');
  t.equal(await outcome(connect(c, 'olduser', late)), otherKey('olduser'), 'a second key is refused');
  const creates = readFileSync(join(rooms, 'olduser.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.kind === 'create');
  t.same(creates.map((e) => e.text), ['', `ed25519:${claimer.publicKey.toString('base64')}`], 'the claim is a second create in the room file, with the key');

  for (const [name, owner] of [['Pair', upper], ['pair', lower]] as const) {
    const session = await connect(c, name, owner);
    t.equal(await outcome(unary(c, 'Post', { user: name, text: `${name} still here` }, bearer(session.token))), 'OK', `${name}'s owner connects and posts`);
  }
  t.equal(await outcome(connect(c, 'PAIR', person())), 'ALREADY_EXISTS: PAIR is taken: names are unique without regard to case, and pair exists', 'a third spelling is refused');
});
