/**
 * `npm run bench -- --only security --baseline DIR`: what TLS and sessions cost
 * together (issue 12's goal: at most 15 % more CPU per durable post), against a
 * build without both. DIR is a built checkout of the release before them (7dcdab0:
 * `git worktree add DIR 7dcdab0 && cd DIR && npm ci`); its own bench/server.js starts
 * its tree and makes its plaintext, session-less clients. The two one-machine trees
 * (2 workers) run side by side and are measured in alternating rounds (off, on, on,
 * off, ...), so the host's load falls on both alike:
 * - CPU per durable post at one fixed offered rate (64 users, paced): CPU per post
 *   falls as throughput rises (a commit's fixed costs spread over more posts), so
 *   both trees must carry the same posts/s for the ratio to be the features' cost;
 * - connect latency: a new connection up to its first answer (off: Connect; on: TLS
 *   and the key handshake), one at a time.
 */
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Identity } from '../lib/client/identity';
import { ftchatProto } from '../lib/common/proto';
import type { ChatClient } from '../lib/gen/ftchat/Chat';
import { credentialsFor } from '../test/helpers/trust';
import { call, chatClient, sessionOnNewChannel, startServer, type BenchServer } from './server';
import { cpuClock, cpuPerUnit, loadAverageText, nowMs, startRun, summarize, type RunHeader, type Summary } from './stats';

const WORKERS = 2;
const ROUNDS = 4;
const USERS = 64;
const RATE = 300;
const ROUND_SECONDS = 8;
const CONNECTS = 100;
const CONNECTIONS = 8;

type Mode = 'off' | 'on';

/** What the run needs of a tree, whichever build started it. */
interface Tree {
  server: BenchServer;
  client(): ChatClient;
  /** A new connection up to its first answer. */
  connect(user: string): Promise<void>;
}

/** The baseline build's bench/server.js, as far as this suite uses it. */
interface BaselineServer {
  startServer(workers: number): Promise<BenchServer>;
  chatClient(address: string): ChatClient;
  call(client: ChatClient, method: string, req: object): Promise<unknown>;
}

export interface SecurityRound {
  mode: Mode;
  posts: number;
  postsPerSec: number;
  serverCpuUsPerPost: number;
  workerCpuUsPerPost: number;
  connectMs: Summary;
}

export interface SecurityResult extends RunHeader {
  baseline: string;
  offeredPerSec: number;
  rounds: SecurityRound[];
  /** Both on over both off, posts-weighted over the rounds; connect p50 as the median of the rounds'. */
  ratio: { serverCpuPerPost: number; workerCpuPerPost: number; connectP50: number };
}

function baselineTree(server: BenchServer, mod: BaselineServer): Tree {
  return {
    server,
    client: () => mod.chatClient(server.address),
    connect: async (user) => {
      const c = new (ftchatProto().ftchat.Chat)(server.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
      try {
        await mod.call(c, 'Connect', { user });
      } finally {
        c.close();
      }
    },
  };
}

function currentTree(server: BenchServer): Tree {
  const ids = new Map<string, Identity>();
  return {
    server,
    client: () => chatClient(server.address),
    connect: async (user) => {
      const id = ids.get(user) ?? Identity.generate(user);
      ids.set(user, id);
      await sessionOnNewChannel(server.address, credentialsFor(server.address), id);
    },
  };
}

/** Every user posts at RATE / USERS a second, each on its own schedule, for ROUND_SECONDS. */
async function pacedPosts(tree: Tree, tag: string): Promise<Omit<SecurityRound, 'mode' | 'connectMs'>> {
  const clients = Array.from({ length: CONNECTIONS }, () => tree.client());
  try {
    const users = Array.from({ length: USERS }, (_, i) => `s${tag}_${i}`);
    for (const u of users) await call(clients[0], 'Connect', { user: u });
    const meter = cpuClock(tree.server.pidsByRole());
    const t0 = nowMs();
    const intervalMs = (1000 * USERS) / RATE;
    let posts = 0;
    await Promise.all(
      users.map(async (user, i) => {
        for (let k = 0; ; k++) {
          const due = t0 + (k + i / USERS) * intervalMs;
          if (due > t0 + ROUND_SECONDS * 1000) break;
          const wait = due - nowMs();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          await call(clients[i % CONNECTIONS], 'Post', { user, id: `${tag}${k}`, text: `paced post ${k}` });
          posts++;
        }
      }),
    );
    const seconds = (nowMs() - t0) / 1000;
    const per = cpuPerUnit(meter.stop(), posts);
    return { posts, postsPerSec: Math.round(posts / seconds), serverCpuUsPerPost: Object.values(per).reduce((a, b) => a + b, 0), workerCpuUsPerPost: per.worker ?? NaN };
  } finally {
    for (const c of clients) c.close();
  }
}

async function connectLatency(tree: Tree, user: string): Promise<Summary> {
  await tree.connect(user); // the first creates the user's room
  const samples: number[] = [];
  for (let i = 0; i < CONNECTS; i++) {
    const t0 = nowMs();
    await tree.connect(user);
    samples.push(nowMs() - t0);
  }
  return summarize(samples);
}

export async function benchSecurity(baselineDir: string | undefined): Promise<SecurityResult> {
  if (!baselineDir) throw new Error('--baseline DIR is required: a built checkout of the release before TLS and sessions (7dcdab0)');
  const dir = resolve(baselineDir);
  // The other build is found at run time: its own modules start its tree and speak its protocol.
  const mod = require(join(dir, 'dist', 'bench', 'server.js')) as BaselineServer;
  const header = startRun(WORKERS);
  const trees: Record<Mode, Tree> = {
    off: baselineTree(await mod.startServer(WORKERS), mod),
    on: currentTree(await startServer(WORKERS)),
  };
  const rounds: SecurityRound[] = [];
  try {
    for (let r = 1; r <= ROUNDS; r++) {
      for (const mode of (r % 2 ? ['off', 'on'] : ['on', 'off']) as Mode[]) {
        console.error(`bench: security round ${r}/${ROUNDS}, ${mode}`);
        const posts = await pacedPosts(trees[mode], `${mode}${r}${Date.now().toString(36).slice(-4)}`);
        rounds.push({ mode, ...posts, connectMs: await connectLatency(trees[mode], `cx${mode}${process.pid}`) });
      }
    }
  } finally {
    await Promise.all([trees.off.server.stop(), trees.on.server.stop()]);
  }
  const weighted = (mode: Mode, k: 'serverCpuUsPerPost' | 'workerCpuUsPerPost'): number => {
    const of = rounds.filter((x) => x.mode === mode);
    return of.reduce((a, x) => a + x[k] * x.posts, 0) / of.reduce((a, x) => a + x.posts, 0);
  };
  const p50 = (mode: Mode): number => summarize(rounds.filter((x) => x.mode === mode).map((x) => x.connectMs.p50)).p50;
  const round3 = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    ...header(),
    baseline: dir,
    offeredPerSec: RATE,
    rounds,
    ratio: {
      serverCpuPerPost: round3(weighted('on', 'serverCpuUsPerPost') / weighted('off', 'serverCpuUsPerPost')),
      workerCpuPerPost: round3(weighted('on', 'workerCpuUsPerPost') / weighted('off', 'workerCpuUsPerPost')),
      connectP50: round3(p50('on') / p50('off')),
    },
  };
}

export function printSecurityReport(r: SecurityResult): void {
  const lines = [
    '',
    `ftchat security bench: TLS and sessions on (this build) against both off (${r.baseline}), ${WORKERS} workers, node ${r.node}; ${loadAverageText(r)}; ${USERS} users offering ${r.offeredPerSec} posts/s, ${ROUNDS} rounds each, alternating`,
    '',
    '| round | mode | posts/s | server CPU µs/post | worker µs/post | connect p50 / p99 ms |',
    '|---|---|---|---|---|---|',
    ...r.rounds.map((x, i) => `| ${Math.floor(i / 2) + 1} | ${x.mode} | ${x.postsPerSec} | ${x.serverCpuUsPerPost} | ${x.workerCpuUsPerPost} | ${x.connectMs.p50.toFixed(2)} / ${x.connectMs.p99.toFixed(2)} |`),
    '',
    `on / off: server CPU per post ${r.ratio.serverCpuPerPost}, worker ${r.ratio.workerCpuPerPost} (goal: at most 1.15); connect p50 ${r.ratio.connectP50}`,
  ];
  console.log(lines.join('\n'));
}
