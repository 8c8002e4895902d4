/**
 * Post-to-follower delivery latency in chat mode. Rooms with 1, 100 and 1,000
 * followers; every follower is a real Subscribe stream held by a helper process
 * (bench/followers.ts), so the receiving side can be spread over processes. A
 * poster sends posts at a steady pace with the send time in their text; each
 * follower measures send-to-receipt on the same host clock.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../test/helpers/wait';
import { ChildLink } from './child-link';
import { benchPerson, call, chatClient, inParallel, type BenchServer } from './server';
import { cpuClock, cpuPerUnit, nowMs, summarize, type CpuUse, type Summary } from './stats';

/** The follower helpers' scheduling priority (the lowest). */
export const FOLLOWER_NICE = 19;

/** Posts the delivery bench times carry this prefix and then their send time (ms). */
export const STAMP = 'bench-delivery ';

export interface Audience {
  /** followers -> the user whose room has that many followers */
  stars: Map<number, string>;
  /** Users in chat mode (open Subscribe streams). */
  connected: number;
  /** The helper processes holding the streams. */
  helpers: ChildLink[];
  close(): Promise<void>;
}

export interface DeliveryResult {
  followers: number;
  posts: number;
  postsPerSec: number;
  delivered: number;
  expected: number;
  latencyMs: Summary;
  streamErrors: number;
  cpu: CpuUse;
  /** CPU µs per delivered message, by process group. */
  cpuUsPerDelivery: Record<string, number>;
}

/**
 * Creates the users, has follower i join every room with more than i followers,
 * and puts every follower in chat mode; resolves once every stream delivers.
 */
export async function gatherAudience(server: BenchServer, sizes: number[], helpers: number): Promise<Audience> {
  const tag = randomUUID().slice(0, 6);
  const stars = new Map(sizes.map((n) => [n, `s${tag}_${n}`]));
  const followers = Array.from({ length: Math.max(...sizes) }, (_, i) => `f${tag}_${i}`);
  const setup = Array.from({ length: 4 }, () => chatClient(server.address));
  // The followers' processes stand for users' own machines: at the lowest priority, so they take only
  // the CPU the server leaves (a 2-core host cannot keep them off its cores altogether).
  const links = Array.from({ length: helpers }, () => ChildLink.start('followers', FOLLOWER_NICE));
  const poster = chatClient(server.address);
  try {
    let k = 0;
    const next = (): (typeof setup)[number] => setup[k++ % setup.length];
    await inParallel([...stars.values(), ...followers], 64, (user) => call(next(), 'Connect', { user }));
    const joins = sizes.flatMap((n) => followers.slice(0, n).map((user) => ({ user, room: stars.get(n)! })));
    await inParallel(joins, 64, (req) => call(next(), 'Join', req));
    await Promise.all(links.map((link, h) => link.request('open', { address: server.address, users: followers.filter((_, i) => i % helpers === h), person: benchPerson(server) })));

    // A stream is live once something arrives on it: post to the biggest room until all have heard.
    const biggest = stars.get(Math.max(...sizes))!;
    let stop = false;
    const pinger = (async () => {
      for (let i = 0; !stop; i++) {
        await call(poster, 'Post', { user: biggest, id: `warm${i}`, text: STAMP + nowMs().toFixed(3) });
        await sleep(100);
      }
    })();
    try {
      await waitFor(
        'every follower stream live',
        async () => (await Promise.all(links.map((l) => l.request<number>('heard')))).reduce((a, b) => a + b, 0) === followers.length,
        60_000,
        100,
      );
    } finally {
      stop = true;
      await pinger;
    }
    return {
      stars,
      connected: followers.length,
      helpers: links,
      close: async () => {
        await Promise.all(links.map((l) => l.request('close').catch(() => undefined)));
        await Promise.all(links.map((l) => l.stop()));
      },
    };
  } catch (err) {
    await Promise.all(links.map((l) => l.stop()));
    throw err;
  } finally {
    for (const c of [...setup, poster]) c.close();
  }
}

export async function measureDelivery(
  server: BenchServer,
  audience: Audience,
  followers: number,
  opts: { posts: number; intervalMs: number },
): Promise<DeliveryResult> {
  const star = audience.stars.get(followers)!;
  const links = audience.helpers;
  const poster = chatClient(server.address);
  try {
    const received = async (): Promise<number> => (await Promise.all(links.map((l) => l.request<number>('received')))).reduce((a, b) => a + b, 0);
    await Promise.all(links.map((l) => l.request('collect'))); // drop what earlier phases left
    const meter = cpuClock({ ...server.pidsByRole(), followerHelpers: links.map((l) => l.pid), poster: [process.pid] });
    const expected = opts.posts * followers;
    const t0 = nowMs();
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < opts.posts; i++) {
      const due = t0 + i * opts.intervalMs;
      if (due > nowMs()) await sleep(due - nowMs());
      acks.push(call(poster, 'Post', { user: star, id: `d${i}`, text: STAMP + nowMs().toFixed(3) }));
    }
    await Promise.all(acks);
    const postsPerSec = opts.posts / ((nowMs() - t0) / 1000);
    await waitFor(`${expected} deliveries`, async () => (await received()) >= expected, 20_000, 50).catch(() => undefined);
    const cpu = meter.stop();
    const got = await Promise.all(links.map((l) => l.request<{ latencies: number[]; streamErrors: number }>('collect')));
    const latencies = got.flatMap((g) => g.latencies);
    return {
      followers,
      posts: opts.posts,
      postsPerSec: Math.round(postsPerSec),
      delivered: latencies.length,
      expected,
      latencyMs: summarize(latencies),
      streamErrors: got.reduce((a, g) => a + g.streamErrors, 0),
      cpu,
      cpuUsPerDelivery: cpuPerUnit(cpu, latencies.length),
    };
  } finally {
    poster.close();
  }
}
