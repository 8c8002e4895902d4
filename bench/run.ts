/**
 * `npm run bench [-- --only chat,recovery,replication]`: every benchmark against
 * the real server on this machine.
 * - chat: durable posts/s, delivery latency to 1/100/1,000 followers in chat mode,
 *   worker memory with 1,000 users connected, and raw grpc-js in the same run for
 *   the transport's limit (one machine, 2 workers);
 * - recovery: time from SIGKILL to a replacement serving, per role; idle cost;
 * - replication: lag between machines, catch-up of 10,000 and 100,000 events;
 * - tls: CPU per durable post and connect latency with TLS against plaintext, the same tree twice in one run;
 * - identity: connect latency of the key handshake against one round trip, CPU per
 *   durable post with sessions and the session check's share of it;
 * - names: connect latency and CPU of a new name and a returning user, settled by a
 *   majority, against the build before (`--baseline DIR`), three machines each, alternating;
 * - security: TLS and sessions together against a build without both (`--baseline DIR`),
 *   CPU per durable post at one paced rate and connect latency, alternating rounds;
 * - history: start, revival, memory, catch-up and latency on generated histories
 *   (`--events N[,N...]`, and `--users`, `--follows`, `--give-up` seconds, `--kills`, `--missed`, `--seed`).
 * Each prints a markdown table and writes bench/results/<suite>-<timestamp>.json.
 * Everything started is cleaned up, also on Ctrl-C.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../lib/common/paths';
import { runCleanups } from './cleanup';
import { gatherAudience, measureDelivery, type DeliveryResult } from './delivery';
import { benchHistory, HISTORY_ARGS, historyOptions, printHistoryReport } from './history';
import { measureEcho, type EchoResult } from './grpc-echo';
import { benchIdentity, printIdentityReport } from './identity';
import { benchNames, printNamesReport } from './names';
import { workerMemory, type WorkerMemory } from './memory';
import { measurePosts, type PostsResult } from './posts';
import { benchRecovery, printRecoveryReport, RECOVERY_ARGS, recoveryOptions } from './recovery';
import { benchReplication, printReplicationReport } from './replication';
import { benchSecurity, printSecurityReport } from './security';
import { printReport } from './report';
import { startServer } from './server';
import { startRun, type RunHeader } from './stats';
import { benchTls, printTlsReport } from './tls';

const WORKERS = 2;
const POST_SECONDS = 6;
const FOLLOWER_SIZES = [1, 100, 1000];
const FOLLOWER_HELPERS = 4;
const ECHO = { inFlight: 64, durationMs: 2_000, serialCalls: 1_000 };
const DELIVERY = { posts: 100, intervalMs: 40 }; // 25 posts/s: 25,000 deliveries/s to 1,000 followers

export interface BenchResults extends RunHeader {
  /** Measured first and last, as the machine's load may change during the run. */
  echo: EchoResult[];
  posts: PostsResult[];
  delivery: DeliveryResult[];
  memory: { connectedUsers: number; idle: WorkerMemory[]; afterConnect: WorkerMemory[]; afterDelivery: WorkerMemory[] };
}

async function benchChat(): Promise<BenchResults> {
  const header = startRun(WORKERS);
  const echo: EchoResult[] = [];
  const measureTransport = async (): Promise<void> => {
    console.error('bench: raw grpc-js echo');
    echo.push(await measureEcho(ECHO));
  };
  await measureTransport();

  const posts: PostsResult[] = [];
  let server = await startServer(WORKERS);
  try {
    for (const s of [
      { name: '128 users, each posting to their own room', rooms: 128, lanes: 1 },
      { name: '128 in flight into 4 rooms', rooms: 4, lanes: 32 },
    ]) {
      console.error(`bench: posts, ${s.name}`);
      posts.push(await measurePosts(server, { ...s, durationMs: POST_SECONDS * 1_000, connections: 8 }));
    }
  } finally {
    await server.stop();
  }

  // A fresh server, so the workers' peak memory is that of serving the connected users.
  server = await startServer(WORKERS);
  try {
    const idle = workerMemory(server);
    console.error(`bench: ${Math.max(...FOLLOWER_SIZES)} followers joining and entering chat mode`);
    const audience = await gatherAudience(server, FOLLOWER_SIZES, FOLLOWER_HELPERS);
    try {
      const afterConnect = workerMemory(server);
      const delivery: DeliveryResult[] = [];
      for (const n of FOLLOWER_SIZES) {
        console.error(`bench: delivery to ${n} follower(s)`);
        delivery.push(await measureDelivery(server, audience, n, DELIVERY));
      }
      await measureTransport();
      const results: BenchResults = {
        ...header(),
        echo,
        posts,
        delivery,
        memory: { connectedUsers: audience.connected, idle, afterConnect, afterDelivery: workerMemory(server) },
      };
      return results;
    } finally {
      await audience.close();
    }
  } finally {
    await server.stop();
  }
}

type Args = Parameters<typeof historyOptions>[0] & { baseline?: string; roles?: string; 'master-kills'?: string };
const SUITES = {
  chat: { run: () => benchChat(), print: printReport },
  recovery: { run: (args: Args) => benchRecovery(recoveryOptions(args)), print: printRecoveryReport },
  replication: { run: () => benchReplication(), print: printReplicationReport },
  tls: { run: () => benchTls(), print: printTlsReport },
  history: { run: (args: Args) => benchHistory(historyOptions(args)), print: printHistoryReport },
  identity: { run: () => benchIdentity(), print: printIdentityReport },
  security: { run: (args: Args) => benchSecurity(args.baseline), print: printSecurityReport },
  names: { run: (args: Args) => benchNames(args.baseline), print: printNamesReport },
} as const;
type Suite = keyof typeof SUITES;

function save(suite: string, result: { startedAt: string }): string {
  const dir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${suite}-${result.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

async function main(): Promise<void> {
  // history is long and sized by its flags: run it by name.
  const { values } = parseArgs({ options: { only: { type: 'string', default: 'chat,recovery,replication' }, baseline: { type: 'string' }, ...HISTORY_ARGS, ...RECOVERY_ARGS } });
  const suites = values.only.split(',').map((x) => x.trim());
  const unknown = suites.filter((x) => !(x in SUITES));
  if (unknown.length > 0) throw new Error(`unknown suite ${unknown.join(', ')} (have ${Object.keys(SUITES).join(', ')})`);
  for (const suite of suites as Suite[]) {
    console.error(`bench: --- ${suite} ---`);
    const { run, print } = SUITES[suite] as { run: (args: Args) => Promise<{ startedAt: string }>; print: (r: never) => void };
    const result = await run(values);
    print(result as never);
    console.log(`\nresults: ${save(suite, result)}`);
  }
}

main().then(
  () => {
    runCleanups();
    process.exit(0); // client channels may still hold the loop open
  },
  (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1); // the 'exit' hook cleans up
  },
);
