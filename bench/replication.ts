/**
 * The replication benchmark, against a real 3-machine cluster on loopback:
 * - lag under steady posting: posts go to m1 (then m2) at a steady rate; a user on
 *   m3 who follows the posters is in chat mode and times each arrival against the
 *   post's ack (replication lag) and against its send (cross-machine post-to-follower
 *   latency); a follower on the posting machine gives the same-machine baseline;
 * - catch-up: every process of m3 is SIGKILLed, N events are posted on m1 and m2,
 *   m3 is started again, and the time from its start to "caught up" (the
 *   replicator's log line for each peer) is measured, then confirmed by identical
 *   `fbs dump`s of m1 and m3. Writing the N events is timed too, apart: it is the
 *   set-up, not the result.
 */
import type { Figure } from './ab';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { loadConfig } from '../lib/common/config';
import { ftchatProto } from '../lib/common/proto';
import { secretMetadata } from '../lib/common/secret';
import type { EventBatch__Output } from '../lib/gen/ftchat/EventBatch';
import type { ChatClient } from '../lib/gen/ftchat/Chat';
import type { SubscribeItem__Output } from '../lib/gen/ftchat/SubscribeItem';
import { converged, type LogLine, type TestCluster } from '../test/helpers/server';
import { waitFor } from '../test/helpers/wait';
import { call, chatClient, startTree } from './server';
import { cpuClock, cpuMs, cpuPercent, loadAverageText, nowMs, startRun, summarize, type RunHeader, type Summary } from './stats';
import { machineChannelCredentials } from '../lib/common/transport-security';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { machineDirOf } from '../lib/storage/data-dir';
import { generateInto } from './history-cache';
import { usersFor } from './history-gen';

export interface ReplicationOptions {
  /** Steady posting rate of the lag runs, posts/s, and how long each run posts. */
  ratePerSec?: number;
  seconds?: number;
  /** Users posting in a lag run (round robin), each on a connection of its own. */
  posters?: number;
  /** Sizes of the catch-ups: events a stopped m3 misses. */
  catchUps?: number[];
  /** Posts in flight per posting machine while the missed events are written. */
  fillInFlight?: number;
  /** Sizes of the catch-ups of an emptied m3 from a generated history on m1 and m2 (`--catch-up`); given, only these run. */
  emptyCatchUps?: number[];
  /** The generated histories: users wanted, follows per user, seed; and a cache dir (bench/history-cache.ts). */
  history?: { users: number; follows: number; seed: number; cache: string | null };
  /** A dir for CPU profiles of m3's processes during an emptied m3's catch-up (`--cpu-prof DIR`). */
  cpuProfDir?: string;
  /** Progress lines (default: stderr). */
  progress?: (line: string) => void;
}

/** The suite's own flags (bench/run.ts); `--users`, `--follows`, `--seed`, `--history-cache` are the history suite's. */
export const REPLICATION_ARGS = {
  'catch-up': { type: 'string' },
  'cpu-prof': { type: 'string' },
} as const;

export function replicationOptions(args: { 'catch-up'?: string; 'cpu-prof'?: string; users?: string; follows?: string; seed?: string; 'history-cache'?: string; smoke?: boolean }): ReplicationOptions {
  if (args.smoke) return REPLICATION_SMOKE;
  if (args['catch-up'] === undefined) return {};
  return {
    emptyCatchUps: args['catch-up'].split(',').map(Number).filter((n) => n > 0),
    history: { users: Number(args.users ?? 100_000), follows: Number(args.follows ?? 20), seed: Number(args.seed ?? 1), cache: args['history-cache'] ?? null },
    cpuProfDir: args['cpu-prof'],
  };
}

export interface LagRun {
  postingMachine: string;
  followerMachine: string;
  posts: number;
  /** Posts/s actually sent (the timer may fire late on a busy machine). */
  sentPerSec: number;
  failedPosts: number;
  /** Posts the follower on the far machine received / on the posting machine received. */
  delivered: number;
  deliveredLocally: number;
  streamErrors: number;
  /** Send -> ack on the posting machine (durable there). */
  ackMs: Summary;
  /** Replication lag: ack on the posting machine -> arrival at the follower on the far machine. */
  lagMs: Summary;
  /** Cross-machine post-to-follower latency: send on the posting machine -> arrival on the far machine. */
  postToFollowerMs: Summary;
  /** The same-machine baseline: send -> arrival at a follower on the posting machine. */
  localPostToFollowerMs: Summary;
  /** Lag (ack -> arrival) to the follower on every other machine, m3's included. */
  lagByMachineMs: Record<string, Summary>;
  /** % of one core, per machine's processes, this bench process and everything else on the host. */
  cpuPercent: Record<string, number>;
}

export interface PeerCatchUp {
  peer: string;
  /** From the replicator's "caught up with peer" line. */
  received: number;
  appended: number;
  streamMs: number;
  /** When that line was logged, ms after m3 was started. */
  atMs: number;
}

export interface CatchUpRun {
  /** Events in m1's dump that m3 did not have when it was started again. */
  missed: number;
  /** Events m3 already had. */
  had: number;
  /** The set-up, not the result: writing the missed posts on m1 and m2 through gRPC, and m1/m2 converging (absent: a generated history, `generated`). */
  fill?: { posts: number; seconds: number; postsPerSec: number; convergedAfterMs: number };
  /** The set-up of an emptied m3's catch-up: the generated history (bench/history-gen.ts), and m1 and m2's first start on it. */
  generated?: { users: number; follows: number; generateMs: number; firstStartMs: number };
  /** Milestones, ms after m3's `fbs start` was spawned. */
  phases: Record<string, number>;
  /** m3 start -> the replicator caught up with every peer (the reported catch-up time). */
  caughtUpMs: number;
  eventsPerSec: number;
  /** Confirmation: m3's dump was byte-identical to m1's this long after m3's start (upper bound: polled). */
  identicalMs: number;
  identicalAtFirstLook: boolean;
  peers: PeerCatchUp[];
  /** CPU (ms) from m3's start to its catch-up: the new m3 replicator, all of m3, m1 and m2 (serving it). */
  cpuMs: Record<string, number>;
  /** What the rest of the host (other helpers' work) used meanwhile, % of one core (the host has 2 cores). */
  otherLoadPercent: number;
  /** m3's warnings and errors from its start to the confirmation, the first few (a restarted replicator shows here). */
  m3Said?: string[];
}

export interface ReplicationResult extends RunHeader {
  lag: LagRun[];
  catchUps: CatchUpRun[];
  /** The whole bench, start-up and set-up included. */
  seconds: number;
}

export const GOAL_LAG_P99_MS = 50;
/** A catch-up of 100,000 events or more: within 10 s, and at 50,000 events/s past that (1,000,000 in 20 s, 10,000,000 in 200 s). */
export function catchUpGoalMs(events: number): number {
  return Math.max(10_000, events / 50);
}

const WORKERS = 2;
const MACHINES = ['m1', 'm2', 'm3'];
const STAMP = 'bench-replication ';
/** How long the far follower may take to receive the last posts of a run before they count as missing. */
const DRAIN_MS = 20_000;
/** Rooms and client connections per posting machine while the missed events are written. */
const FILL_ROOMS = 8;
const FILL_CONNECTIONS = 4;

/** A size that only shows the suite still runs (`--smoke`). */
export const REPLICATION_SMOKE: ReplicationOptions = { ratePerSec: 20, seconds: 1, posters: 2, catchUps: [200], fillInFlight: 16 };

export async function benchReplication(opts: ReplicationOptions = {}): Promise<ReplicationResult> {
  const o = {
    ratePerSec: 200,
    seconds: 10,
    posters: 4,
    catchUps: [10_000, 100_000],
    fillInFlight: 128,
    progress: (line: string) => console.error(line),
    ...opts,
  };
  const t0 = nowMs();
  const header = startRun(WORKERS);
  if (o.emptyCatchUps) {
    const catchUps: CatchUpRun[] = [];
    for (const n of o.emptyCatchUps) catchUps.push(await measureEmptyCatchUp(n, o));
    return { ...header(), lag: [], catchUps, seconds: Math.round((nowMs() - t0) / 1000) };
  }
  o.progress('replication: starting machines m1, m2, m3');
  const cluster = await startTree(MACHINES);
  try {
    const lag: LagRun[] = [];
    const audience = await gatherAudience(cluster, o.posters);
    try {
      for (const posting of ['m1', 'm2']) {
        o.progress(`replication: ${o.ratePerSec} posts/s on ${posting} for ${o.seconds} s, follower on m3`);
        const run = await measureLag(cluster, audience, posting, o);
        o.progress(`replication: lag p50 ${run.lagMs.p50} ms, p99 ${run.lagMs.p99} ms; ${run.delivered}/${run.posts} delivered`);
        lag.push(run);
      }
    } finally {
      audience.close();
    }
    const catchUps: CatchUpRun[] = [];
    for (const n of o.catchUps) {
      const c = await measureCatchUp(cluster, n, o);
      catchUps.push(c);
      o.progress(`replication: caught up ${c.missed} events in ${c.caughtUpMs} ms (${c.eventsPerSec} events/s)`);
    }
    return {
      ...header(),
      lag,
      catchUps,
      seconds: Math.round((nowMs() - t0) / 1000),
    };
  } finally {
    await cluster.teardown();
  }
}

// ---------------------------------------------------------------- lag

interface Poster {
  user: string;
  client: ChatClient;
}

/** A user in chat mode: one Subscribe stream, the arrival time of every bench post by its key. */
class Follower {
  readonly arrivals = new Map<string, number>();
  streamErrors = 0;
  private closed = false;
  private readonly client: ChatClient;
  private readonly stream: grpc.ClientReadableStream<SubscribeItem__Output>;

  constructor(address: string, user: string) {
    this.client = chatClient(address);
    this.stream = this.client.Subscribe({ user });
    this.stream.on('data', (item: SubscribeItem__Output) => {
      const text = item.event?.text ?? '';
      if (text.startsWith(STAMP) && !this.arrivals.has(text)) this.arrivals.set(text, nowMs());
    });
    this.stream.on('error', () => {
      if (!this.closed) this.streamErrors++;
    });
  }

  close(): void {
    this.closed = true;
    this.stream.cancel();
    this.client.close();
  }
}

interface Audience {
  /** Posting users per machine. */
  posters: Record<string, Poster[]>;
  /** Per machine, a follower of every poster of m1 and m2 (the far follower is the one on m3). */
  followers: Record<string, Follower>;
  close(): void;
}

/**
 * Posters on m1 and m2; on every machine a follower of all of them, joined on its
 * own machine (so the posters' rooms must have replicated there first), in chat
 * mode, and heard from (its stream is live) before anything is measured.
 */
async function gatherAudience(cluster: TestCluster, perMachine: number): Promise<Audience> {
  const tag = Date.now().toString(36).slice(-5);
  const posters: Record<string, Poster[]> = {};
  const all: Poster[] = [];
  for (const m of ['m1', 'm2']) {
    posters[m] = Array.from({ length: perMachine }, (_, i) => ({ user: `r${tag}_${m}_${i}`, client: chatClient(cluster.address(m)) }));
    for (const p of posters[m]) await call(p.client, 'Connect', { user: p.user });
    all.push(...posters[m]);
  }
  const followers: Record<string, Follower> = {};
  const close = (): void => {
    for (const f of Object.values(followers)) f.close();
    for (const p of all) p.client.close();
  };
  try {
    for (const m of MACHINES) {
      const user = `f${tag}_${m}`;
      const c = chatClient(cluster.address(m));
      try {
        await call(c, 'Connect', { user });
        for (const p of all) {
          // NOT_FOUND until the poster's room has replicated here.
          await waitFor(`${p.user}'s room on ${m}`, () => call(c, 'Join', { user, room: p.user }).then(() => true, () => false), 15_000, 50);
        }
      } finally {
        c.close();
      }
      followers[m] = new Follower(cluster.address(m), user);
    }
    // A stream registers a moment after it opens: post until every follower has heard every poster.
    const heardAll = (): boolean =>
      Object.values(followers).every((f) => all.every((p) => [...f.arrivals.keys()].some((k) => k.startsWith(`${STAMP}warm ${p.user} `))));
    for (let round = 0; !heardAll(); round++) {
      if (round > 100) throw new Error('follower streams never became live');
      await Promise.all(all.map((p) => call(p.client, 'Post', { user: p.user, id: `warm${round}`, text: `${STAMP}warm ${p.user} ${round}` })));
      await waitFor('warm-up posts heard', () => heardAll(), 1_000, 10).catch(() => undefined);
    }
    for (const f of Object.values(followers)) f.arrivals.clear();
    return { posters, followers, close };
  } catch (err) {
    close();
    throw err;
  }
}

async function measureLag(cluster: TestCluster, audience: Audience, posting: string, o: Required<Pick<ReplicationOptions, 'ratePerSec' | 'seconds'>>): Promise<LagRun> {
  const far = audience.followers.m3;
  const near = audience.followers[posting];
  const posters = audience.posters[posting];
  const n = o.ratePerSec * o.seconds;
  const keyOf = (i: number): string => `${STAMP}lag-${posting} ${i}`;
  const sent = new Float64Array(n);
  const acked = new Float64Array(n).fill(NaN);
  let failedPosts = 0;
  const meter = cpuClock({ ...machinePids(cluster), bench: [process.pid] });

  const acks: Promise<void>[] = [];
  const t0 = nowMs();
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / o.ratePerSec;
    if (due > nowMs()) await sleep(due - nowMs());
    const p = posters[i % posters.length];
    sent[i] = nowMs();
    acks.push(
      call(p.client, 'Post', { user: p.user, id: `lag-${posting}-${i}`, text: keyOf(i) }).then(
        () => void (acked[i] = nowMs()),
        () => void failedPosts++,
      ),
    );
  }
  const sentPerSec = Math.round(n / ((nowMs() - t0) / 1000));
  await Promise.all(acks);
  const arrived = (f: Follower): number => Array.from({ length: n }, (_, i) => keyOf(i)).filter((k) => f.arrivals.has(k)).length;
  await waitFor('every post at both followers', () => arrived(far) >= n - failedPosts && arrived(near) >= n - failedPosts, DRAIN_MS, 20).catch(() => undefined);
  const cpu = cpuPercent(meter.stop());

  /** Arrival at a follower minus a per-post start time (send or ack), for posts with both. */
  const after = (f: Follower, from: Float64Array): number[] =>
    Array.from({ length: n }, (_, i) => (f.arrivals.get(keyOf(i)) ?? NaN) - from[i]).filter((x) => !Number.isNaN(x));
  const lag = after(far, acked);
  const postToFollower = after(far, sent);
  const local = after(near, sent);
  const ack = Array.from(acked, (a, i) => a - sent[i]).filter((x) => !Number.isNaN(x));
  const lagByMachineMs = Object.fromEntries(
    MACHINES.filter((m) => m !== posting).map((m) => [m, summarize(after(audience.followers[m], acked))]),
  );
  return {
    postingMachine: posting,
    followerMachine: 'm3',
    posts: n,
    sentPerSec,
    failedPosts,
    delivered: postToFollower.length,
    deliveredLocally: local.length,
    streamErrors: far.streamErrors + near.streamErrors,
    ackMs: summarize(ack),
    lagMs: summarize(lag),
    postToFollowerMs: summarize(postToFollower),
    localPostToFollowerMs: summarize(local),
    lagByMachineMs,
    cpuPercent: cpu,
  };
}

function machinePids(cluster: TestCluster): Record<string, number[]> {
  return Object.fromEntries(MACHINES.map((m) => [m, cluster.pids(m)]));
}

// ---------------------------------------------------------------- catch-up

export async function measureCatchUp(
  cluster: TestCluster,
  missedPosts: number,
  o: Pick<Required<ReplicationOptions>, 'fillInFlight' | 'progress'>,
): Promise<CatchUpRun> {
  o.progress(`replication: catch-up of ${missedPosts} events: stopping every process of m3`);
  const had = await sameCounts(cluster, MACHINES, 120_000);
  await cluster.killMachine('m3');

  o.progress(`replication: writing ${missedPosts} posts on m1 and m2 while m3 is down`);
  const fill: Omit<NonNullable<CatchUpRun['fill']>, 'convergedAfterMs'> = await writeMissed(cluster, missedPosts, o.fillInFlight);
  const filledAt = nowMs();
  const total = await sameCounts(cluster, ['m1', 'm2'], 120_000);
  const convergedAfterMs = Math.round(nowMs() - filledAt);

  o.progress(`replication: starting m3 again (${total - had} events behind)`);
  return { ...(await timeCatchUp(cluster, had, total, {})), fill: { ...fill, convergedAfterMs } };
}

/**
 * Starts m3 (stopped, `had` events behind m1's `total`) and times it until its
 * replicator says it caught up with every peer, then confirms it holds what m1 holds.
 * `env`: for m3's processes (e.g. NODE_OPTIONS preloading bench/cpu-prof-hook).
 */
async function timeCatchUp(cluster: TestCluster, had: number, total: number, env: Record<string, string>): Promise<Omit<CatchUpRun, 'fill'>> {
  const since = cluster.logs.length;
  const servers = (m: string): number[] => cluster.pids(m);
  const serving = cpuClock({ m1: servers('m1'), m2: servers('m2'), bench: [process.pid] });
  const started = nowMs();
  await cluster.start('m3', env);
  const servingAt = nowMs();
  const peers = MACHINES.filter((m) => m !== 'm3');
  const mine = (msg: string): LogLine[] => cluster.logs.slice(since).filter((l) => l.machine === 'm3' && l.role === 'replicator' && l.msg === msg);
  const caughtUp = await waitFor(
    'm3 caught up with every peer',
    () => {
      const lines = mine('caught up with peer');
      return peers.every((p) => lines.some((l) => l.peer === p)) && lines;
    },
    CATCH_UP_MS_MAX,
    5,
  );
  // The master may have forked the replicator again as m3 started: the last one serving is the one that caught up.
  const serving3 = mine('replicator serving');
  const replicatorPid = serving3[serving3.length - 1]?.pid;
  const replicatorCpu = replicatorPid && existsSync(`/proc/${replicatorPid}`) ? cpuMs(replicatorPid) : NaN;
  // m3's processes all started in this window: what they used so far is what they used in it.
  const m3Cpu = servers('m3').reduce((sum, pid) => sum + cpuMs(pid), 0);
  const window = serving.stop();
  const servingCpu = window.ms;
  const at = (l: LogLine): number => Math.round(Date.parse(String(l.time)) - started);
  const firstOf = (lines: LogLine[]): number | undefined => (lines.length ? Math.min(...lines.map(at)) : undefined);

  // Dumps of millions of events take minutes: past DUMP_COMPARE_MAX the confirmation is the event count.
  let identicalAtFirstLook: boolean;
  if (total <= DUMP_COMPARE_MAX) {
    const [m1Dump, m3Dump] = await Promise.all([cluster.dump('m1'), cluster.dump('m3')]);
    identicalAtFirstLook = m1Dump === m3Dump;
    if (!identicalAtFirstLook) await converged(cluster, ['m1', 'm3'], 60_000);
  } else {
    identicalAtFirstLook = (await eventCount(cluster, 'm3')) === total;
    if (!identicalAtFirstLook) await sameCounts(cluster, ['m1', 'm3'], 60_000);
  }
  const identicalMs = Math.round(nowMs() - started);

  const peerRuns = caughtUp
    .filter((l, i, a) => a.findIndex((x) => x.peer === l.peer) === i)
    .map((l) => ({ peer: String(l.peer), received: Number(l.received), appended: Number(l.appended), streamMs: Number(l.ms), atMs: at(l) }));
  const caughtUpMs = Math.max(...peerRuns.map((p) => p.atMs));
  const phases: Record<string, number> = {};
  const mark = (label: string, ms: number | undefined): void => {
    if (ms !== undefined && Number.isFinite(ms)) phases[label] = ms;
  };
  mark('replicator loaded its room files', firstOf(mine('loaded room files')));
  mark('replicator serving', firstOf(mine('replicator serving')));
  mark('first batch from a peer', firstOf(mine('pulling from peer')));
  for (const p of peerRuns) mark(`caught up with ${p.peer}`, p.atMs);
  mark('workers and replicator serving (start() returned)', Math.round(servingAt - started));
  return {
    missed: total - had,
    had,
    phases,
    caughtUpMs,
    eventsPerSec: Math.round(((total - had) * 1000) / caughtUpMs),
    identicalMs,
    identicalAtFirstLook,
    peers: peerRuns,
    cpuMs: { m3Replicator: replicatorCpu, m3: m3Cpu, m1: servingCpu.m1, m2: servingCpu.m2 },
    otherLoadPercent: Math.round((Math.max(0, servingCpu.otherLoad - m3Cpu) / window.elapsedMs) * 100),
    m3Said: cluster.logs.slice(since).filter((l) => l.machine === 'm3' && /warn|error|fatal/.test(l.level)).slice(0, SAID_MAX).map((l) => `${l.role} ${l.level} ${l.msg} ${JSON.stringify(l).slice(0, 300)}`),
  };
}

/**
 * The catch-up of an emptied m3: a history of `events` generated for all three
 * machines (users and follows as in the history suite), m3's data dir removed, m1
 * and m2 started on theirs (their first start builds their indexes: set-up), then
 * m3 started and timed until it caught up with both.
 */
async function measureEmptyCatchUp(events: number, o: ReplicationOptions & { progress: (line: string) => void }): Promise<CatchUpRun> {
  const h = o.history ?? { users: 100_000, follows: 20, seed: 1, cache: null };
  const users = usersFor(events, h.follows, h.users);
  const cluster = await startTree(MACHINES, WORKERS, { startMachines: false, startTimeoutMs: CATCH_UP_MS_MAX });
  try {
    const dataDir = loadConfig(cluster.configFile).dataDir;
    o.progress(`replication: generating ${events} events (${users} users, ${h.follows} follows each)`);
    const t0 = nowMs();
    await generateInto(dataDir, { events, users, follows: h.follows, seed: h.seed }, h.cache);
    const generateMs = Math.round(nowMs() - t0);
    rmSync(machineDirOf(dataDir, 'm3'), { recursive: true, force: true });
    o.progress('replication: first start of m1 and m2 on it');
    const t1 = nowMs();
    await Promise.all(['m1', 'm2'].map((m) => cluster.start(m)));
    const firstStartMs = Math.round(nowMs() - t1);
    const total = await sameCounts(cluster, ['m1', 'm2'], CATCH_UP_MS_MAX);
    o.progress(`replication: starting an emptied m3 (${total} events behind)`);
    const env: Record<string, string> = o.cpuProfDir ? { NODE_OPTIONS: `--require ${join(__dirname, 'cpu-prof-hook.js')}`, FTCHAT_CPU_PROF_DIR: o.cpuProfDir } : {};
    const run = await timeCatchUp(cluster, 0, total, env);
    o.progress(`replication: caught up ${run.missed} events in ${run.caughtUpMs} ms (${run.eventsPerSec} events/s)`);
    if (o.cpuProfDir) await cluster.stop('m3'); // a profile is written when its process exits
    return { ...run, generated: { users, follows: h.follows, generateMs, firstStartMs } };
  } finally {
    await cluster.teardown();
  }
}

/** An emptied m3's start, catch-up and check, at most (10,000,000 events at a few thousand a second). */
const CATCH_UP_MS_MAX = 60 * 60_000;

/** m3's warnings and errors a catch-up's report shows at most. */
const SAID_MAX = 12;

/** Above this many events the catch-up is confirmed by counts, not by comparing dumps. */
const DUMP_COMPARE_MAX = 1_000_000;

/**
 * How many events a machine holds, without a dump: the first batch of a Pull from
 * an empty vector says how many are left behind it.
 */
async function eventCount(cluster: TestCluster, machine: string): Promise<number> {
  const P = ftchatProto();
  const config = loadConfig(cluster.configFile);
  // A peer's claimed name must be the one its certificate names.
  const from = MACHINES.find((m) => m !== machine) as string;
  const client = new P.ftchat.Replication(cluster.peerAddress(machine), machineChannelCredentials(config, from));
  try {
    return await new Promise<number>((resolve, reject) => {
      const pull = client.Pull({ from, vector: { seqs: {} } }, secretMetadata(config.secret), { deadline: Date.now() + 30_000 });
      pull.once('data', (b: EventBatch__Output) => {
        resolve(Number(b.backlog) + b.events.length);
        pull.cancel();
      });
      pull.on('error', (err: grpc.ServiceError) => err.code !== grpc.status.CANCELLED && reject(err));
    });
  } finally {
    client.close();
  }
}

/** Waits until the machines hold equally many events (and some); returns that count. */
function sameCounts(cluster: TestCluster, machines: string[], timeoutMs: number): Promise<number> {
  return waitFor(
    `equal event counts on ${machines.join(', ')}`,
    async () => {
      const counts = await Promise.all(machines.map((m) => eventCount(cluster, m)));
      return counts.every((c) => c === counts[0]) && counts[0] > 0 && counts[0];
    },
    timeoutMs,
    200,
  );
}

/**
 * Posts `count` posts, half through m1 and half through m2, with `inFlight` calls
 * in flight per machine over a few connections (node:cluster balances connections
 * between workers) into a few rooms (each room a file fsynced per group commit).
 */
async function writeMissed(cluster: TestCluster, count: number, inFlight: number): Promise<Omit<NonNullable<CatchUpRun['fill']>, 'convergedAfterMs'>> {
  const tag = Date.now().toString(36).slice(-5);
  const lanes: { client: ChatClient; user: string; machine: string }[] = [];
  const clients: ChatClient[] = [];
  for (const m of ['m1', 'm2']) {
    const mc = Array.from({ length: FILL_CONNECTIONS }, () => chatClient(cluster.address(m)));
    clients.push(...mc);
    const users = Array.from({ length: FILL_ROOMS }, (_, i) => `c${tag}_${m}_${i}`);
    for (const user of users) await call(mc[0], 'Connect', { user });
    for (let l = 0; l < inFlight; l++) lanes.push({ client: mc[l % FILL_CONNECTIONS], user: users[l % FILL_ROOMS], machine: m });
  }
  let next = 0;
  const t0 = nowMs();
  try {
    await Promise.all(
      lanes.map(async (lane) => {
        for (let i = next++; i < count; i = next++) {
          const req = { user: lane.user, id: `${tag}f${i}`, text: `catch-up filler ${i} on ${lane.machine}` };
          // A post that timed out on a busy machine is retried with the same id: stored once.
          for (let attempt = 1; ; attempt++) {
            try {
              await call(lane.client, 'Post', req);
              break;
            } catch (err) {
              if (attempt >= 5) throw err;
            }
          }
        }
      }),
    );
  } finally {
    for (const c of clients) c.close();
  }
  const seconds = (nowMs() - t0) / 1000;
  return { posts: count, seconds: Math.round(seconds * 10) / 10, postsPerSec: Math.round(count / seconds) };
}

// ---------------------------------------------------------------- cluster


// ---------------------------------------------------------------- report

const ms = (x: number): string => `${x.toFixed(1)} ms`;
const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const met = (ok: boolean): string => (ok ? 'met' : 'MISSED');

/** The table rows (metric | result | goal). */
export function replicationRows(r: ReplicationResult): [string, string, string][] {
  const rows: [string, string, string][] = [];
  for (const x of r.lag) {
    const lost = x.delivered < x.posts ? `; only ${int(x.delivered)} of ${int(x.posts)} arrived` : '';
    rows.push([
      `replication lag ${x.postingMachine} -> ${x.followerMachine} (ack on ${x.postingMachine} to arrival at a follower on ${x.followerMachine}), ${x.sentPerSec} posts/s for ${int(x.posts)} posts`,
      `p50 ${ms(x.lagMs.p50)}, p99 ${ms(x.lagMs.p99)}, max ${ms(x.lagMs.max)}${lost}`,
      `p99 < ${GOAL_LAG_P99_MS} ms: ${met(x.lagMs.p99 < GOAL_LAG_P99_MS && !lost)}`,
    ]);
  }
  for (const x of r.lag) {
    rows.push([
      `cross-machine post-to-follower latency ${x.postingMachine} -> ${x.followerMachine} (send to arrival)`,
      `p50 ${ms(x.postToFollowerMs.p50)}, p99 ${ms(x.postToFollowerMs.p99)} (same machine: p50 ${ms(x.localPostToFollowerMs.p50)}, p99 ${ms(x.localPostToFollowerMs.p99)}; ack p50 ${ms(x.ackMs.p50)}, p99 ${ms(x.ackMs.p99)})`,
      '',
    ]);
  }
  for (const c of r.catchUps) {
    const goal = c.missed >= 100_000 ? `< ${catchUpGoalMs(c.missed) / 1000} s: ${met(c.caughtUpMs < catchUpGoalMs(c.missed))}` : '';
    rows.push([
      `catch-up of ${c.generated ? 'an emptied' : 'a restarted'} m3 that missed ${int(c.missed)} events (start to caught up with m1 and m2)`,
      `${(c.caughtUpMs / 1000).toFixed(2)} s, ${int(c.eventsPerSec)} events/s (dump identical to m1's ${c.identicalAtFirstLook ? 'at the first look' : 'later'}, ${(c.identicalMs / 1000).toFixed(1)} s)`,
      goal,
    ]);
  }
  return rows;
}

export function printReplicationReport(r: ReplicationResult): void {
  console.log(
    `\nftchat replication bench, 3 machines on loopback, ${r.workers} workers each, node ${r.node}, ${r.seconds} s; ` +
      `${loadAverageText(r)} (2 cores)\n`,
  );
  console.log('| metric | result | goal |');
  console.log('|---|---|---|');
  for (const row of replicationRows(r)) console.log(`| ${row.join(' | ')} |`);
  console.log('');
  for (const x of r.lag) {
    const cpu = Object.entries(x.cpuPercent).map(([k, v]) => `${k} ${v}%`).join(', ');
    const lags = Object.entries(x.lagByMachineMs).map(([m, l]) => `to ${m} p50 ${ms(l.p50)}, p99 ${ms(l.p99)}`).join('; ');
    console.log(`- lag run on ${x.postingMachine}: ${lags}; CPU (% of one core) ${cpu}; ${x.failedPosts} failed posts, ${x.streamErrors} stream errors`);
  }
  for (const c of r.catchUps) {
    const phases = Object.entries(c.phases).sort((a, b) => a[1] - b[1]).map(([l, v]) => `${l} ${v}`).join(' → ');
    const peers = c.peers.map((p) => `${p.peer}: received ${int(p.received)}, appended ${int(p.appended)} in ${p.streamMs} ms`).join('; ');
    const cpu = Object.entries(c.cpuMs).map(([k, v]) => `${k} ${int(v)} ms`).join(', ');
    console.log(`- catch-up of ${int(c.missed)} (m3 had ${int(c.had)}): ms after start: ${phases}`);
    console.log(`  per peer: ${peers}; CPU: ${cpu}; the rest of the host used ${c.otherLoadPercent} % of one core meanwhile`);
    if (c.fill) console.log(`  set-up, not the result: ${int(c.fill.posts)} posts written through gRPC at ${int(c.fill.postsPerSec)} /s (${c.fill.seconds} s), m1 and m2 converged ${c.fill.convergedAfterMs} ms later`);
    for (const line of c.m3Said ?? []) console.log(`  m3 said: ${line}`);
    if (c.generated) console.log(`  set-up, not the result: a generated history (${int(c.generated.users)} users, ${c.generated.follows} follows each) in ${int(c.generated.generateMs)} ms, m1 and m2's first start on it ${int(c.generated.firstStartMs)} ms`);
  }
}

/** The headline figures an A/B compares (bench/ab.ts). */
export function replicationFigures(r: ReplicationResult): Figure[] {
  return [
    ...r.lag.map((l): Figure => [`lag p99 ms, ${l.postingMachine} to ${l.followerMachine}`, l.lagMs.p99]),
    ...r.catchUps.map((c): Figure => [`catch-up ms, ${c.missed} events`, c.caughtUpMs]),
    ...r.catchUps.map((c): Figure => [`catch-up events/s, ${c.missed} events`, c.eventsPerSec]),
    // Not read (NaN, null in the results file): no figure, rather than a 0 in the A/B's median.
    ...r.catchUps.map((c): Figure => [`m3 replicator CPU ms, ${c.missed} events`, Number.isFinite(c.cpuMs.m3Replicator) && c.cpuMs.m3Replicator > 0 ? c.cpuMs.m3Replicator : undefined]),
  ];
}
