/**
 * The chat suite: durable posts/s, delivery latency to 1/100/1,000 followers in chat
 * mode, worker memory with 1,000 users connected, and raw grpc-js in the same run
 * for the transport's limit (one machine, 2 workers).
 */
import type { Figure } from './ab';
import { gatherAudience, measureDelivery, type DeliveryResult } from './delivery';
import { measureEcho, type EchoResult } from './grpc-echo';
import { workerMemory, type WorkerMemory } from './memory';
import { measurePosts, type PostsResult } from './posts';
import { startServer } from './server';
import { startRun, type RunHeader } from './stats';

const WORKERS = 2;

export interface ChatSizes {
  postSeconds: number;
  followerSizes: number[];
  followerHelpers: number;
  echo: { inFlight: number; durationMs: number; serialCalls: number };
  /** 25 posts/s: 25,000 deliveries/s to 1,000 followers. */
  delivery: { posts: number; intervalMs: number };
}
export const CHAT_SIZES: ChatSizes = {
  postSeconds: 6,
  followerSizes: [1, 100, 1000],
  followerHelpers: 4,
  echo: { inFlight: 64, durationMs: 2_000, serialCalls: 1_000 },
  delivery: { posts: 100, intervalMs: 40 },
};
export const CHAT_SMOKE: ChatSizes = {
  postSeconds: 1,
  followerSizes: [1, 10],
  followerHelpers: 1,
  echo: { inFlight: 8, durationMs: 300, serialCalls: 50 },
  delivery: { posts: 5, intervalMs: 40 },
};

export interface BenchResults extends RunHeader {
  /** Measured first and last, as the machine's load may change during the run. */
  echo: EchoResult[];
  posts: PostsResult[];
  delivery: DeliveryResult[];
  memory: { connectedUsers: number; idle: WorkerMemory[]; afterConnect: WorkerMemory[]; afterDelivery: WorkerMemory[] };
}

export async function benchChat(sizes = CHAT_SIZES): Promise<BenchResults> {
  const header = startRun(WORKERS);
  const echo: EchoResult[] = [];
  const measureTransport = async (): Promise<void> => {
    console.error('bench: raw grpc-js echo');
    echo.push(await measureEcho(sizes.echo));
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
      posts.push(await measurePosts(server, { ...s, durationMs: sizes.postSeconds * 1_000, connections: 8 }));
    }
  } finally {
    await server.stop();
  }

  // A fresh server, so the workers' peak memory is that of serving the connected users.
  server = await startServer(WORKERS);
  try {
    const idle = workerMemory(server);
    console.error(`bench: ${Math.max(...sizes.followerSizes)} followers joining and entering chat mode`);
    const audience = await gatherAudience(server, sizes.followerSizes, sizes.followerHelpers);
    try {
      const afterConnect = workerMemory(server);
      const delivery: DeliveryResult[] = [];
      for (const n of sizes.followerSizes) {
        console.error(`bench: delivery to ${n} follower(s)`);
        delivery.push(await measureDelivery(server, audience, n, sizes.delivery));
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

/** CPU µs per post of the server's processes (the bench's own client excluded). */
const serverCpu = (cpu: Record<string, number>): number => Object.entries(cpu).filter(([role]) => role !== 'client').reduce((s, [, us]) => s + us, 0);

/** One of the speed goals as it came out in one run: a ratio of two figures of that run (or a latency). */
export interface ChatGoal {
  label: string;
  value: number | undefined;
  /** The bound, and whether the value must stay at or below it (else at or above). */
  bound: number;
  atMost: boolean;
  unit: 'ratio' | 'ms';
}

/**
 * The speed goals (issue 21), each from figures of the same run, so the host's
 * load weighs on both sides: durable posts against raw grpc-js unary calls (the
 * best of the runs at start and end), own-room against 4-room posting, and the
 * server's CPU per post against the echo server's per call.
 */
export function chatGoals(r: BenchResults): ChatGoal[] {
  const four = r.posts.find((p) => p.rooms === 4);
  const own = r.posts.find((p) => p.inFlight === p.rooms);
  const calls = Math.max(...r.echo.map((e) => e.callsPerSec));
  const callCpu = Math.min(...r.echo.map((e) => e.cpuUsPerCall.server));
  const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined || b === 0 ? undefined : a / b);
  return [
    { label: '4-room durable posts/s / raw grpc-js calls/s', value: ratio(four?.postsPerSec, calls), bound: 0.85, atMost: false, unit: 'ratio' },
    { label: 'own-room / 4-room durable posts/s', value: ratio(own?.postsPerSec, four?.postsPerSec), bound: 0.95, atMost: false, unit: 'ratio' },
    { label: 'server CPU per durable post, 4 rooms / raw grpc-js server CPU per call', value: ratio(four && serverCpu(four.cpuUsPerPost), callCpu), bound: 1.5, atMost: true, unit: 'ratio' },
    { label: 'server CPU per durable post, own rooms / raw grpc-js server CPU per call', value: ratio(own && serverCpu(own.cpuUsPerPost), callCpu), bound: 1.5, atMost: true, unit: 'ratio' },
    ...r.delivery.map((d): ChatGoal => ({ label: `delivery p99 ms, ${d.followers} follower${d.followers === 1 ? '' : 's'}`, value: d.latencyMs.p99, bound: 20, atMost: true, unit: 'ms' })),
  ];
}

/** The headline figures an A/B compares (bench/ab.ts). */
export function chatFigures(r: BenchResults): Figure[] {
  return [
    ...r.posts.flatMap((p): Figure[] => [
      [`durable posts/s, ${p.rooms} rooms`, p.postsPerSec],
      [`server CPU µs per post, ${p.rooms} rooms`, serverCpu(p.cpuUsPerPost)],
    ]),
    ...r.delivery.map((d): Figure => [`delivery p99 ms, ${d.followers} followers`, d.latencyMs.p99]),
    ...chatGoals(r).filter((g) => g.unit === 'ratio').map((g): Figure => [g.label, g.value]),
    ['raw grpc-js calls/s (best)', Math.max(...r.echo.map((e) => e.callsPerSec))],
  ];
}
