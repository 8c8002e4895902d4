/**
 * `npm run bench -- --only durability --baseline DIR`: what making acknowledged posts
 * survive a power cut costs the posting user, against a build without it. DIR is a
 * built checkout of the release before it (bcc447e: `git worktree add DIR bcc447e &&
 * cd DIR && npm ci && npm run build`), which fsynced the log record before each ack
 * but not the names of new log segments, directories and index files, nor the
 * incarnation file. Both one-machine trees (2 workers) run side by side and are
 * measured in alternating rounds (before, after, after, before, ...), so the host's
 * load falls on both alike, at two post sizes: a short line, and the longest post
 * (1,000 characters), which fills log segments several times as fast and so starts
 * (and syncs the directory of) several times as many.
 */
import { join, resolve } from 'node:path';
import type { ChatClient } from '../lib/gen/ftchat/Chat';
import { measurePosts, type PostsResult } from './posts';
import { chatClient, startServer, type BenchServer } from './server';
import { loadAverageText, median, startRun, type RunHeader } from './stats';

const WORKERS = 2;
const ROUNDS = 6;
const ROUND_MS = 6_000;
const SIZES = [{ name: 'short posts (about 30 characters)', textChars: 0 }, { name: 'longest posts (1,000 characters)', textChars: 1_000 }];

type Build = 'before' | 'after';

interface BaselineServer {
  startServer(workers: number): Promise<BenchServer>;
  chatClient(address: string): ChatClient;
}

export interface DurabilityRound {
  build: Build;
  size: string;
  postsPerSec: number;
  ackP50Ms: number;
  ackP99Ms: number;
  serverCpuUsPerPost: number;
}

export interface DurabilityResult extends RunHeader {
  baseline: string;
  rounds: DurabilityRound[];
  /** Per size: after over before, medians of the rounds (posts/s, ack p99, server CPU per post), and the spread of the posts/s ratio between paired rounds. */
  ratios: { size: string; postsPerSec: number; ackP99: number; serverCpuPerPost: number; postsPerSecSpread: [number, number] }[];
}

function round(r: PostsResult, build: Build, size: string): DurabilityRound {
  const serverCpu = Object.entries(r.cpuUsPerPost).filter(([role]) => role !== 'client').reduce((a, [, us]) => a + us, 0);
  return { build, size, postsPerSec: r.postsPerSec, ackP50Ms: r.ackMs.p50, ackP99Ms: r.ackMs.p99, serverCpuUsPerPost: Math.round(serverCpu) };
}

export async function benchDurability(baselineDir: string | undefined): Promise<DurabilityResult> {
  if (!baselineDir) throw new Error('--baseline DIR is required: a built checkout of the release before the power-loss fixes (bcc447e)');
  const dir = resolve(baselineDir);
  const mod = require(join(dir, 'dist', 'bench', 'server.js')) as BaselineServer;
  const header = startRun(WORKERS);
  const servers: Record<Build, BenchServer> = { before: await mod.startServer(WORKERS), after: await startServer(WORKERS) };
  const clientOf: Record<Build, () => ChatClient> = { before: () => mod.chatClient(servers.before.address), after: () => chatClient(servers.after.address) };
  const rounds: DurabilityRound[] = [];
  try {
    for (let r = 1; r <= ROUNDS; r++) {
      for (const size of SIZES) {
        for (const build of (r % 2 ? ['before', 'after'] : ['after', 'before']) as Build[]) {
          console.error(`bench: durability round ${r}/${ROUNDS}, ${size.name}, ${build}`);
          const scenario = { name: size.name, rooms: 4, lanes: 32, durationMs: ROUND_MS, connections: 8, textChars: size.textChars };
          rounds.push(round(await measurePosts(servers[build], scenario, clientOf[build]), build, size.name));
        }
      }
    }
  } finally {
    await Promise.all([servers.before.stop(), servers.after.stop()]);
  }
  return { ...header(), baseline: dir, rounds, ratios: SIZES.map((s) => ratiosOf(rounds.filter((x) => x.size === s.name), s.name)) };
}

function ratiosOf(rounds: DurabilityRound[], size: string): DurabilityResult['ratios'][number] {
  const of = (b: Build, k: 'postsPerSec' | 'ackP99Ms' | 'serverCpuUsPerPost'): number => median(rounds.filter((x) => x.build === b).map((x) => x[k]));
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  const before = rounds.filter((x) => x.build === 'before');
  const after = rounds.filter((x) => x.build === 'after');
  const paired = after.map((a, i) => a.postsPerSec / before[i].postsPerSec);
  return {
    size,
    postsPerSec: r3(of('after', 'postsPerSec') / of('before', 'postsPerSec')),
    ackP99: r3(of('after', 'ackP99Ms') / of('before', 'ackP99Ms')),
    serverCpuPerPost: r3(of('after', 'serverCpuUsPerPost') / of('before', 'serverCpuUsPerPost')),
    postsPerSecSpread: [r3(Math.min(...paired)), r3(Math.max(...paired))],
  };
}

export function printDurabilityReport(r: DurabilityResult): void {
  const lines = [
    '',
    `ftchat durability bench: this build against the one before the power-loss fixes (${r.baseline}), ${WORKERS} workers, 128 posts in flight into 4 rooms, node ${r.node}; ${loadAverageText(r)}; ${ROUNDS} rounds of ${ROUND_MS / 1000} s per build and size, alternating`,
    '',
    '| round | size | build | durable posts/s | ack p50 / p99 ms | server CPU µs/post |',
    '|---|---|---|---|---|---|',
    ...r.rounds.map((x, i) => `| ${Math.floor(i / (2 * SIZES.length)) + 1} | ${x.size} | ${x.build} | ${x.postsPerSec} | ${x.ackP50Ms.toFixed(1)} / ${x.ackP99Ms.toFixed(1)} | ${x.serverCpuUsPerPost} |`),
    '',
    ...r.ratios.map((x) => `${x.size}: after / before, medians: posts/s ${x.postsPerSec} (paired rounds ${x.postsPerSecSpread[0]}-${x.postsPerSecSpread[1]}), ack p99 ${x.ackP99}, server CPU per post ${x.serverCpuPerPost}`),
  ];
  console.log(lines.join('\n'));
}
