/**
 * `npm run bench`: the benchmark against the real server on this machine
 * (2 workers): durable posts/s, delivery latency to 1/100/1,000 followers in chat
 * mode, worker memory with 1,000 users connected, and raw grpc-js in the same run
 * for the transport's limit. Prints a markdown table and writes
 * bench/results/<timestamp>.json. Everything it starts is cleaned up, also on Ctrl-C.
 */
import { loadavg } from 'node:os';
import { runCleanups } from './cleanup';
import { gatherAudience, measureDelivery, type DeliveryResult } from './delivery';
import { measureEcho, type EchoResult } from './grpc-echo';
import { workerMemory, type WorkerMemory } from './memory';
import { measurePosts, type PostsResult } from './posts';
import { printReport, saveResults } from './report';
import { startServer } from './server';

const WORKERS = 2;
const POST_SECONDS = 6;
const FOLLOWER_SIZES = [1, 100, 1000];
const FOLLOWER_HELPERS = 4;
const ECHO = { inFlight: 64, durationMs: 2_000, serialCalls: 1_000 };
const DELIVERY = { posts: 100, intervalMs: 40 }; // 25 posts/s: 25,000 deliveries/s to 1,000 followers

export interface BenchResults {
  startedAt: string;
  node: string;
  loadAverage: { start: number[]; end: number[] };
  workers: number;
  /** Measured first and last, as the machine's load may change during the run. */
  echo: EchoResult[];
  posts: PostsResult[];
  delivery: DeliveryResult[];
  memory: { connectedUsers: number; idle: WorkerMemory[]; afterConnect: WorkerMemory[]; afterDelivery: WorkerMemory[] };
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const loadStart = loadavg();
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
        startedAt,
        node: process.version,
        loadAverage: { start: loadStart, end: loadavg() },
        workers: WORKERS,
        echo,
        posts,
        delivery,
        memory: { connectedUsers: audience.connected, idle, afterConnect, afterDelivery: workerMemory(server) },
      };
      printReport(results);
      console.log(`\nresults: ${saveResults(results)}`);
    } finally {
      await audience.close();
    }
  } finally {
    await server.stop();
  }
}

main().then(
  () => runCleanups(),
  (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1); // the 'exit' hook cleans up
  },
);
