/**
 * `npm run bench -- --only tls`: what TLS costs. The same one-machine tree is
 * started twice side by side, once plaintext (`"tls": false`) and once with TLS (as
 * `fbs init` sets it up: server TLS on the client port, mutual TLS between
 * machines), and the two are measured in turns (plain, TLS, plain, TLS...) so a
 * change in the host's load falls on both alike:
 * - CPU per durable post: 128 users posting to their own rooms, every server
 *   process's CPU (and the client's) divided by the posts acknowledged;
 * - connect latency: a new connection (TCP, the TLS handshake, HTTP/2) up to its
 *   session (the key handshake: Challenge and a signed Connect), one at a time.
 */
import type { Figure } from './ab';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { loadConfig } from '../lib/common/config';
import { userChannelCredentials } from '../lib/common/transport-security';
import { Identity } from '../lib/client/identity';
import { measurePosts, type PostsResult } from './posts';
import { sessionOnNewChannel, startServer, type BenchServer } from './server';
import { loadAverageText, nowMs, startRun, summarize, type RunHeader, type Summary } from './stats';

const WORKERS = 2;
export interface TlsSizes {
  rounds: number;
  postSeconds: number;
  connects: number;
}
export const TLS_SIZES: TlsSizes = { rounds: 3, postSeconds: 5, connects: 200 };
export const TLS_SMOKE: TlsSizes = { rounds: 1, postSeconds: 1, connects: 5 };
const MODES = ['plain', 'tls'] as const;
type Mode = (typeof MODES)[number];

export interface TlsRound {
  mode: Mode;
  posts: PostsResult;
  connectMs: Summary;
}

export interface TlsResult extends RunHeader {
  rounds: TlsRound[];
  /** Per mode over all rounds: server CPU µs per post (every server process), and connect latency. */
  summary: Record<Mode, { serverCpuUsPerPost: number; workerCpuUsPerPost: number; postsPerSec: number; connectMs: Summary }>;
  /** TLS over plain, over all rounds (posts-weighted); and the median of each round's TLS over its plain, measured back to back. */
  ratio: { serverCpuPerPost: number; workerCpuPerPost: number; connectP50: number; serverCpuPerPostPairedMedian: number };
}

/** Time from a new channel to a session on it (the key handshake: Challenge, then a signed Connect), `n` times one after another. */
async function connectLatency(server: BenchServer, credentials: grpc.ChannelCredentials, n: number): Promise<Summary> {
  const id = Identity.generate(`c${randomUUID().slice(0, 6)}`);
  const samples: number[] = [];
  for (let i = 0; i <= n; i++) {
    const t0 = nowMs();
    await sessionOnNewChannel(server.address, credentials, id);
    if (i > 0) samples.push(nowMs() - t0); // the first creates the user's room
  }
  return summarize(samples);
}

function serverCpu(p: PostsResult): number {
  return Object.entries(p.cpuUsPerPost).filter(([role]) => role !== 'client').reduce((s, [, us]) => s + us, 0);
}

export async function benchTls(sizes = TLS_SIZES): Promise<TlsResult> {
  const header = startRun(WORKERS);
  const servers = {} as Record<Mode, BenchServer>;
  const credentials = {} as Record<Mode, grpc.ChannelCredentials>;
  for (const mode of MODES) {
    servers[mode] = await startServer(WORKERS, { tls: mode === 'tls' });
    credentials[mode] = userChannelCredentials(loadConfig(servers[mode].cluster.configFile));
  }
  try {
    const rounds: TlsRound[] = [];
    for (let r = 0; r < sizes.rounds; r++) {
      for (const mode of MODES) {
        console.error(`bench: tls round ${r + 1}/${sizes.rounds}, ${mode}`);
        const posts = await measurePosts(servers[mode], { name: `own rooms, ${mode}`, rooms: 128, lanes: 1, durationMs: sizes.postSeconds * 1000, connections: 8 });
        rounds.push({ mode, posts, connectMs: await connectLatency(servers[mode], credentials[mode], sizes.connects) });
      }
    }
    const per = (mode: Mode): TlsResult['summary'][Mode] => {
      const mine = rounds.filter((x) => x.mode === mode);
      const posts = mine.reduce((s, x) => s + x.posts.posts, 0);
      const weighted = (f: (p: PostsResult) => number): number => Math.round(mine.reduce((s, x) => s + f(x.posts) * x.posts.posts, 0) / posts);
      return {
        serverCpuUsPerPost: weighted(serverCpu),
        workerCpuUsPerPost: weighted((p) => p.cpuUsPerPost.worker ?? 0),
        postsPerSec: Math.round(mine.reduce((s, x) => s + x.posts.postsPerSec, 0) / mine.length),
        connectMs: summarize(mine.map((x) => x.connectMs.p50)),
      };
    };
    const summary = { plain: per('plain'), tls: per('tls') };
    const ratio = (a: number, b: number): number => Math.round((a / b) * 1000) / 1000;
    // CPU per post falls as throughput rises (bigger group commits), and the host's load moves
    // throughput from round to round: each TLS round is set against the plain round just before it.
    const paired = rounds.filter((x) => x.mode === 'tls').map((x) => ratio(serverCpu(x.posts), serverCpu(rounds[rounds.indexOf(x) - 1].posts)));
    return {
      ...header(),
      rounds,
      summary,
      ratio: {
        serverCpuPerPost: ratio(summary.tls.serverCpuUsPerPost, summary.plain.serverCpuUsPerPost),
        workerCpuPerPost: ratio(summary.tls.workerCpuUsPerPost, summary.plain.workerCpuUsPerPost),
        connectP50: ratio(summary.tls.connectMs.p50, summary.plain.connectMs.p50),
        serverCpuPerPostPairedMedian: summarize(paired).p50,
      },
    };
  } finally {
    for (const mode of MODES) await servers[mode].stop();
  }
}

export function printTlsReport(r: TlsResult): void {
  console.log(`\nftchat TLS bench, ${r.workers} workers, node ${r.node}; ${loadAverageText(r)}; ${r.rounds.length / MODES.length} rounds each, alternating`);
  console.log('\n| round | mode | posts/s | server CPU µs/post | worker µs/post | connect p50 / p99 ms |');
  console.log('|---|---|---|---|---|---|');
  r.rounds.forEach((x, i) =>
    console.log(`| ${Math.floor(i / MODES.length) + 1} | ${x.mode} | ${x.posts.postsPerSec} | ${serverCpu(x.posts)} | ${x.posts.cpuUsPerPost.worker ?? 0} | ${x.connectMs.p50.toFixed(2)} / ${x.connectMs.p99.toFixed(2)} |`),
  );
  console.log('\n| | plain | TLS | TLS / plain |');
  console.log('|---|---|---|---|');
  console.log(`| server CPU per post (µs) | ${r.summary.plain.serverCpuUsPerPost} | ${r.summary.tls.serverCpuUsPerPost} | ${r.ratio.serverCpuPerPost} |`);
  console.log(`| server CPU per post, median of rounds' TLS / plain | | | ${r.ratio.serverCpuPerPostPairedMedian} |`);
  console.log(`| worker CPU per post (µs) | ${r.summary.plain.workerCpuUsPerPost} | ${r.summary.tls.workerCpuUsPerPost} | ${r.ratio.workerCpuPerPost} |`);
  console.log(`| connect p50 (ms, median of rounds) | ${r.summary.plain.connectMs.p50.toFixed(2)} | ${r.summary.tls.connectMs.p50.toFixed(2)} | ${r.ratio.connectP50} |`);
}

/** The headline figures an A/B compares (bench/ab.ts). */
export function tlsFigures(r: TlsResult): Figure[] {
  return [
    ['TLS over plain, server CPU per post', r.ratio.serverCpuPerPost],
    ['TLS over plain, connect p50', r.ratio.connectP50],
    ['server CPU µs per post, TLS', r.summary.tls.serverCpuUsPerPost],
  ];
}
