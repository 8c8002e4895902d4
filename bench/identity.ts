/**
 * What "users are keys" costs (issue 12), in one run on one machine (2 workers):
 * - connect latency: the handshake (Challenge, sign, Connect with its signature
 *   check), for new users (their room is created) and returning ones, against one
 *   bare round trip to the same server (a Challenge: what an old Connect of a known
 *   user cost, less its index lookup);
 * - the worker CPU per handshake;
 * - CPU per durable post with sessions (the chat bench's own-room scenario), and the
 *   session check's share of it: the check (token parse, HMAC, key lookup) timed
 *   alone here, per call.
 */
import type { Figure } from './ab';
import { performance } from 'node:perf_hooks';
import { generateKeyPairSync } from 'node:crypto';
import { bearerToken, clusterKeys, fingerprint, mintToken, rawPublicKey, verifyToken, type Session } from '../lib/core/identity';
import { VerifiedTokens } from '../lib/core/verified-tokens';
import { handshake, Identity, type HandshakeCall } from '../lib/client/identity';
import type { ChatClient } from '../lib/gen/ftchat/Chat';
import { measurePosts, type PostsResult } from './posts';
import { call, chatClient, startServer } from './server';
import { cpuClock, cpuPerUnit, loadAverageText, nowMs, startRun, summarize, type RunHeader, type Summary } from './stats';

export interface IdentitySizes {
  users: number;
  postSeconds: number;
}
export const IDENTITY_SIZES: IdentitySizes = { users: 200, postSeconds: 6 };
export const IDENTITY_SMOKE: IdentitySizes = { users: 5, postSeconds: 1 };

export interface IdentityResults extends RunHeader {
  roundTripMs: Summary;
  newUserHandshakeMs: Summary;
  returningHandshakeMs: Summary;
  /** Worker CPU µs per handshake of a returning user. */
  workerCpuUsPerHandshake: number;
  posts: PostsResult;
  /** The session check alone, µs per call of a session (this process, one core): its token verified once, then cached. */
  sessionCheckUs: number;
  /** A token's first check (HMAC and parse), µs. */
  tokenVerifyUs: number;
}

export async function benchIdentity(sizes = IDENTITY_SIZES): Promise<IdentityResults> {
  const header = startRun(2);
  const server = await startServer(2);
  const client = chatClient(server.address);
  try {
    const via = (c: ChatClient): HandshakeCall => (method, req) => call(c, method, req as never);
    const ids = Array.from({ length: sizes.users }, (_, i) => Identity.generate(`k${process.pid}_${i}`));
    const timed = async (fn: (id: Identity) => Promise<unknown>): Promise<number[]> => {
      const ms: number[] = [];
      for (const id of ids) {
        const t0 = nowMs();
        await fn(id);
        ms.push(nowMs() - t0);
      }
      return ms;
    };
    await timed((id) => call(client, 'Challenge', { user: id.user })); // warm-up
    const roundTrip = await timed((id) => call(client, 'Challenge', { user: id.user }));
    const fresh = await timed((id) => handshake(via(client), id));
    const meter = cpuClock({ worker: server.workerPids() });
    const returning = await timed((id) => handshake(via(client), id));
    const cpu = meter.stop();

    console.error('bench: posts, 128 users each posting to their own room');
    const posts = await measurePosts(server, { name: '128 users, each posting to their own room', rooms: 128, lanes: 1, durationMs: sizes.postSeconds * 1000, connections: 8 });
    return {
      ...header(),
      roundTripMs: summarize(roundTrip),
      newUserHandshakeMs: summarize(fresh),
      returningHandshakeMs: summarize(returning),
      workerCpuUsPerHandshake: cpuPerUnit(cpu, sizes.users).worker,
      posts,
      ...sessionCheckUs(),
    };
  } finally {
    client.close();
    await server.stop();
  }
}

/**
 * What a worker does per call for its session, timed alone: header parse, token check,
 * fingerprint compare; as a session's calls do it (the token verified once, then
 * cached: lib/core/verified-tokens) and as its first call does (HMAC and parse).
 */
function sessionCheckUs(): { sessionCheckUs: number; tokenVerifyUs: number } {
  const keys = clusterKeys('a bench secret of thirty-two bytes or more');
  const raw = rawPublicKey(generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }));
  const fp = fingerprint(raw);
  const header = `Bearer ${mintToken(keys, { user: 'bench_user', key: fp, expiresAtMs: Date.now() + 3_600_000 })}`;
  const tokens = new VerifiedTokens(keys, 3_600_000);
  const timed = (verify: (token: string | null) => Session | string): number => {
    const n = 50_000;
    let ok = 0;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const s = verify(bearerToken(header));
      if (typeof s !== 'string' && s.key === fp) ok++;
    }
    if (ok !== n) throw new Error('session check failed in the bench');
    return Math.round(((performance.now() - t0) * 10_000) / n) / 10;
  };
  return {
    sessionCheckUs: timed((token) => tokens.verify(token, Date.now())),
    tokenVerifyUs: timed((token) => verifyToken(keys, token, Date.now(), 3_600_000)),
  };
}

export function printIdentityReport(r: IdentityResults): void {
  const ms = (s: Summary): string => `${s.p50.toFixed(2)} / ${s.p99.toFixed(2)} ms`;
  const worker = r.posts.cpuUsPerPost.worker;
  console.log(`\n## Identity: what sessions cost (${r.startedAt}, ${loadAverageText(r)})\n`);
  console.log('| measure | p50 / p99 | against one round trip (p50) |');
  console.log('|---|---|---|');
  console.log(`| one round trip (Challenge) | ${ms(r.roundTripMs)} | 1.00 |`);
  console.log(`| handshake, new user (room created) | ${ms(r.newUserHandshakeMs)} | ${(r.newUserHandshakeMs.p50 / r.roundTripMs.p50).toFixed(2)} |`);
  console.log(`| handshake, returning user | ${ms(r.returningHandshakeMs)} | ${(r.returningHandshakeMs.p50 / r.roundTripMs.p50).toFixed(2)} |`);
  console.log(`\nWorker CPU per returning handshake: ${Math.round(r.workerCpuUsPerHandshake)} µs.`);
  console.log(
    `Durable posts into own rooms: ${r.posts.postsPerSec}/s, worker CPU ${Math.round(worker)} µs per post; the session check alone ${r.sessionCheckUs} µs ` +
      `(${((100 * r.sessionCheckUs) / worker).toFixed(1)} % of it; a token's first check ${r.tokenVerifyUs} µs).`,
  );
}

/** The headline figures an A/B compares (bench/ab.ts). */
export function identityFigures(r: IdentityResults): Figure[] {
  return [
    ['new user handshake p50 ms', r.newUserHandshakeMs.p50],
    ['returning handshake p50 ms', r.returningHandshakeMs.p50],
    ['worker CPU µs per handshake', r.workerCpuUsPerHandshake],
    ['durable posts/s with sessions', r.posts.postsPerSec],
    ['worker CPU µs per durable post', r.posts.cpuUsPerPost.worker],
    ['session check µs per call', r.sessionCheckUs],
  ];
}
