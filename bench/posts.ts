/**
 * Durable posts per second, end to end: many posts in flight over real gRPC, each
 * acknowledged only after the server fsynced it. Either every poster writes to its
 * own room (one file each), or all the load goes into a few rooms.
 */
import { randomUUID } from 'node:crypto';
import type { ChatClient } from '../lib/gen/ftchat/Chat';
import { call, chatClient, inParallel, type BenchServer } from './server';
import { cpuClock, cpuPerUnit, nowMs, summarize, type CpuUse, type Summary } from './stats';

export interface PostsScenario {
  name: string;
  /** Users posting, each to their own room. */
  rooms: number;
  /** Posts in flight per room (each lane waits for its ack before the next post). */
  lanes: number;
  durationMs: number;
  /** Client connections the load is spread over (node:cluster balances connections, not calls). */
  connections: number;
  /** Each post's text is padded to this many characters (default: a short line of about 30). */
  textChars?: number;
}

export interface PostsResult {
  scenario: string;
  inFlight: number;
  rooms: number;
  posts: number;
  seconds: number;
  postsPerSec: number;
  ackMs: Summary;
  cpu: CpuUse;
  /** CPU µs per post, by process group. */
  cpuUsPerPost: Record<string, number>;
}

const WARMUP_MS = 500;

/** `newClient`: a client of the build that started `server` (another build's, in an A/B). */
export async function measurePosts(server: BenchServer, s: PostsScenario, newClient = (): ChatClient => chatClient(server.address)): Promise<PostsResult> {
  const tag = randomUUID().slice(0, 6);
  const clients: ChatClient[] = Array.from({ length: s.connections }, newClient);
  const text = (n: number, user: string): string => `bench post ${n} from ${user} `.padEnd(s.textChars ?? 0, 'x');
  try {
    const users = Array.from({ length: s.rooms }, (_, i) => `p${tag}_${i}`);
    await inParallel(users, 32, (user) => call(clients[0], 'Connect', { user }));
    const lanes = users.flatMap((user, u) => Array.from({ length: s.lanes }, (_, l) => ({ user, id: `${u}x${l}`, client: clients[(u * s.lanes + l) % clients.length] })));

    const run = async (phase: string, ms: number, acks: number[]): Promise<void> => {
      const until = nowMs() + ms;
      await Promise.all(
        lanes.map(async (lane) => {
          for (let n = 0; nowMs() < until; n++) {
            const sent = nowMs();
            await call(lane.client, 'Post', { user: lane.user, id: `${phase}${lane.id}n${n}`, text: text(n, lane.user) });
            acks.push(nowMs() - sent);
          }
        }),
      );
    };

    await run('w', WARMUP_MS, []);
    const meter = cpuClock({ ...server.pidsByRole(), client: [process.pid] });
    const acks: number[] = [];
    const t0 = nowMs();
    await run('m', s.durationMs, acks);
    const seconds = (nowMs() - t0) / 1000;
    const cpu = meter.stop();
    return {
      scenario: s.name,
      inFlight: lanes.length,
      rooms: s.rooms,
      posts: acks.length,
      seconds: Math.round(seconds * 100) / 100,
      postsPerSec: Math.round(acks.length / seconds),
      ackMs: summarize(acks),
      cpu,
      cpuUsPerPost: cpuPerUnit(cpu, acks.length),
    };
  } finally {
    for (const c of clients) c.close();
  }
}
