/**
 * Sessions are bounded (issue 18.3), against real `fbs start` trees over real TLS,
 * with a short configured maximum (limits.maxSessionMs: 2 s) in place of the hour:
 * - a token minted with the cluster secret for ten years is refused on every machine;
 * - a chat stream ends when its session expires;
 * - fbc in chat mode carries on across several expiries by itself: every post
 *   arrives once, in order, and the user sees no line about it.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { clusterKeys, fingerprint, mintToken } from '../../lib/core/identity';
import { handshake, sessionMetadata } from '../../lib/client/identity';
import { spawnFbc } from '../helpers/fbc';
import { call, ownConnection, startCluster, testKeys, type TestCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { credentialsFor } from '../helpers/trust';
import { ftchatProto } from '../../lib/common/proto';
import type { ChatClient } from '../../lib/gen/ftchat/Chat';

const SESSION_MS = 2_000;
const YEAR_MS = 365 * 24 * 3600 * 1000;

let cluster: TestCluster;
t.before(async () => {
  cluster = await startCluster({ machines: ['m1', 'm2'], workers: 1, guardians: 1, limits: { maxSessionMs: SESSION_MS } });
});
t.teardown(() => cluster.teardown());

/** How a call ended: 'OK' or its status name and details. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    return `${grpc.status[(err as grpc.ServiceError).code]}: ${(err as grpc.ServiceError).details}`;
  }
}

/** A Chat client that adds nothing to the calls: each carries the token it is given. */
function plainClient(t: { teardown(fn: () => void): void }, machine: string): ChatClient {
  const address = cluster.address(machine);
  const c = new (ftchatProto().ftchat.Chat)(address, credentialsFor(address), { 'grpc.use_local_subchannel_pool': 1 });
  t.teardown(() => c.close());
  return c;
}

function postWith(c: ChatClient, token: string, text: string): Promise<unknown> {
  return new Promise((resolve, reject) => c.Post({ user: 'amy', text }, sessionMetadata(token), (err, res) => (err ? reject(err) : resolve(res))));
}

t.test('a token minted with the secret for ten years is refused on every machine', async (t) => {
  await call(ownConnection(t, cluster.address('m1')), 'Post', { user: 'amy', text: 'amy exists' });
  const keys = clusterKeys(readFileSync(join(dirname(cluster.configFile), 'tls', 'secret'), 'utf8').trim());
  const key = fingerprint(testKeys.identity('amy').publicKey);
  const forged = mintToken(keys, { user: 'amy', key, expiresAtMs: Date.now() + 10 * YEAR_MS });
  for (const m of ['m1', 'm2']) {
    const c = plainClient(t, m);
    // The same minting within the cap passes (once amy's room has reached the machine): only the lifetime is refused.
    await waitFor(`a capped token accepted on ${m}`, () => postWith(c, mintToken(keys, { user: 'amy', key, expiresAtMs: Date.now() + SESSION_MS }), `capped on ${m}`));
    t.equal(await outcome(postWith(c, forged, 'for ten years')), 'UNAUTHENTICATED: session lasts longer than this cluster allows: connect again', `refused on ${m}`);
  }
});

t.test('a chat stream ends when its session expires', async (t) => {
  const c = ownConnection(t, cluster.address('m1'));
  await call(c, 'Post', { user: 'ben', text: 'ben exists' });
  const { token, expires_at_ms: expiresAt } = await handshake((method, req) => call(c, method, req as never), testKeys.identity('ben'));
  t.ok(expiresAt - Date.now() <= SESSION_MS, 'Connect makes a session of the configured length');
  const s = plainClient(t, 'm1').Subscribe({ user: 'ben' }, sessionMetadata(token));
  s.on('data', () => undefined);
  s.on('error', () => undefined); // reported through 'status'
  const ended = await new Promise<grpc.StatusObject>((resolve) => s.on('status', resolve));
  t.equal(`${grpc.status[ended.code]}: ${ended.details}`, 'UNAUTHENTICATED: session expired: connect again', 'the stream ends, saying why');
  t.ok(Date.now() >= expiresAt - 50, `not before the session ends (it ended ${Date.now() - expiresAt} ms after)`);
});

t.test('fbc in chat mode carries on across session expiries without a visible line', async (t) => {
  const dave = spawnFbc(t, ['-u', 'dave', '-s', cluster.address('m2')]);
  dave.send('chat');
  await dave.waitOut('dave in chat mode', (l) => l.includes('chat mode'));
  const carol = spawnFbc(t, ['-u', 'carol', '-s', cluster.address('m1')]);
  carol.send('join dave');
  await carol.waitOut('carol joined dave', (l) => l.includes('carol joined dave'));
  carol.send('chat');
  await carol.waitOut('carol in chat mode', (l) => l.includes('chat mode'));
  const before = carol.out.length;
  // Three sessions' worth of posts, one every 100 ms: some land while a stream is being renewed.
  const posts = Array.from({ length: 3 * (SESSION_MS / 100) }, (_, i) => `msg ${i}`);
  for (const text of posts) {
    dave.send(text);
    await new Promise((r) => setTimeout(r, 100)); // the pace of a typist, not a synchronisation
  }
  await carol.waitOut('the last post at carol', (l) => l.endsWith(`dave: ${posts[posts.length - 1]}`), 60_000);
  const shown = carol.out.slice(before).filter((l) => l.includes('dave: msg'));
  t.same(shown.map((l) => l.slice(l.indexOf('dave: ') + 6)), posts, 'every post once, in order');
  t.same(carol.out.slice(before).filter((l) => !l.includes('dave: msg')), [], 'no other line on stdout');
  t.same(carol.err, [], 'and nothing on stderr');
  t.same(dave.err, [], "the poster's fbc renewed its sessions silently too");
  carol.send('exit');
  carol.send('quit');
  dave.send('exit');
  dave.send('quit');
  t.equal(await carol.exited, 0);
  t.equal(await dave.exited, 0);
});
