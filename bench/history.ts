/**
 * The history benchmark: what a long history costs. For the empty history and each
 * --events N, a fully replicated history (bench/history-gen.ts) is put into the data
 * dirs of three machines on this host, which are then measured:
 * - start: from spawning the three trees to each machine's first answered post, on
 *   the fresh data dir and again after a clean stop;
 * - latency of List and of entering chat mode (Timeline, then Subscribe until its
 *   first item) for generated users;
 * - peak RSS of every worker and replicator (VmHWM, after the start and the latency runs);
 * - revival after SIGKILL per role (bench/recovery.ts's kill runs);
 * - catch-up of m3 after missing N events (bench/replication.ts's);
 * - durable posts/s into own rooms as a share of posts/s into 4 rooms (bench/posts.ts);
 * - disk bytes per event.
 * Every wait has a deadline: a figure not reached in time is "never (gave up after X s)",
 * and a size whose tree never serves skips the rest. Everything started is killed by pid
 * and every temp dir removed, also on Ctrl-C (bench/cleanup.ts).
 */
import type { Figure as AbFigure } from './ab';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { loadConfig } from '../lib/common/config';
import { errorMessage } from '../lib/common/log';
import type { ChatClient } from '../lib/gen/ftchat/Chat';
import type { TimelineResponse__Output } from '../lib/gen/ftchat/TimelineResponse';
import type { TestCluster } from '../test/helpers/server';
import { waitFor } from '../test/helpers/wait';
import { generateInto } from './history-cache';
import { HISTORY_MACHINES as MACHINES, historyUser, usersFor, type HistoryStats } from './history-gen';
import { processMemory, type WorkerMemory } from './memory';
import { measurePosts, type PostsResult } from './posts';
import { killRuns, PostProbe, probeUntil, type Role, type RoleResult } from './recovery';
import { measureCatchUp, type CatchUpRun } from './replication';
import { benchServerOf, call, chatClient, startTree } from './server';
import { loadAverageText, nowMs, startRun, summarize, type RunHeader, type Summary } from './stats';

/** The suite's command-line options (node:util parseArgs), merged into bench/run.ts's. */
export const HISTORY_ARGS = {
  events: { type: 'string', multiple: true },
  users: { type: 'string' },
  follows: { type: 'string' },
  'give-up': { type: 'string' },
  kills: { type: 'string' },
  missed: { type: 'string' },
  seed: { type: 'string' },
  'history-cache': { type: 'string' },
} as const;

export interface HistoryOptions {
  /** History sizes in events; the empty history is measured first unless `emptyFirst` is false (a smoke run). */
  sizes: number[];
  emptyFirst: boolean;
  /** Users wanted; fewer where a size cannot hold them with half of it posts (usersFor). */
  users: number;
  follows: number;
  /** How long any one wait may take (a start, a catch-up...). */
  giveUpMs: number;
  kills: number;
  missed: number;
  seed: number;
  /** A dir keeping each generated history, copied from on later runs instead of generating again. */
  cache: string | null;
  progress: (line: string) => void;
}

export function historyOptions(args: { [K in keyof typeof HISTORY_ARGS]?: string | string[] } & { smoke?: boolean }): HistoryOptions {
  const num = (v: unknown, dflt: number): number => (v === undefined ? dflt : Number(v));
  const sizes = ((args.events as string[] | undefined) ?? ['100000']).flatMap((x) => x.split(',')).map(Number).filter((n) => n > 0);
  return {
    sizes,
    emptyFirst: !args.smoke,
    users: num(args.users, 100_000),
    follows: num(args.follows, 20),
    giveUpMs: num(args['give-up'], 90) * 1000,
    kills: num(args.kills, 5),
    missed: num(args.missed, 10_000),
    seed: num(args.seed, 1),
    cache: (args['history-cache'] as string | undefined) ?? null,
    progress: (line) => console.error(`history: ${line}`),
  };
}

/** du of a machine dir per event: bytes in the files, and on disk (whole blocks). */
function bytesPerEvent(dir: string, events: number): { apparent: number; allocated: number } {
  return { apparent: Math.round(du(dir, true) / events), allocated: Math.round(du(dir, false) / events) };
}

/** A figure, or why there is none. */
export type Figure<T> = { value: T } | { never: string };

export interface StartTimes {
  /** ms from spawning the three trees to each machine's first answered Connect and Post (null: never). */
  firstPostMs: Record<string, number | null>;
  /** ms until each machine's workers and replicator had all logged "serving". */
  servingMs: Record<string, number | null>;
}

export interface Latencies {
  users: number;
  listMs: Summary;
  /** Entering chat mode: Timeline, then Subscribe until its first item; and the two apart. */
  chatEntryMs: Summary;
  timelineMs: Summary;
  subscribeMs: Summary;
}

export interface SizeResult {
  events: number;
  users: number;
  follows: number;
  generator: HistoryStats | null;
  /** du of m1's data dir as generated, per event: bytes in the files, and on disk (whole blocks). */
  diskBytesPerEvent: { apparent: number; allocated: number } | null;
  /** The same once the machine has built its index and checkpoint (after the second start). */
  diskWithIndex: { apparent: number; allocated: number } | null;
  firstStart: Figure<StartTimes>;
  secondStart: Figure<StartTimes>;
  latency: Figure<Latencies>;
  /** Peak RSS (VmHWM) per machine after the first start and the latency runs. */
  memory: Figure<Record<string, { workers: WorkerMemory[]; replicator: WorkerMemory[] }>>;
  revival: Figure<RoleResult[]>;
  catchUp: Figure<CatchUpRun>;
  posts: Figure<{ ownRooms: PostsResult; fourRooms: PostsResult; sharePercent: number }>;
  seconds: number;
}

export interface HistoryResult extends RunHeader {
  options: Omit<HistoryOptions, 'progress'>;
  sizes: SizeResult[];
}

const WORKERS = 2;
const REVIVAL_ROLES: Role[] = ['worker', 'master', 'replicator', 'supervisor'];
const LATENCY_SAMPLES = 30;
const POST_MS = 4_000;
const PROBE_INTERVAL_MS = 50;
/** Per SIGKILL: a replacement that has not recovered by then is a miss. */
const KILL_DEADLINE_MS = 30_000;
const SKIPPED: Figure<never> = { never: 'not measured: the tree never served' };

export async function benchHistory(o: HistoryOptions): Promise<HistoryResult> {
  const header = startRun(WORKERS);
  const sizes: SizeResult[] = [];
  for (const events of o.emptyFirst ? [0, ...o.sizes] : o.sizes) sizes.push(await measureSize(events, o));
  const { progress: _, ...options } = o;
  return { ...header(), options, sizes };
}

async function measureSize(events: number, o: HistoryOptions): Promise<SizeResult> {
  const t0 = nowMs();
  const users = usersFor(events, o.follows, o.users);
  const size = `${events.toLocaleString('en-US')} events`;
  const cluster = await startTree(MACHINES, WORKERS, { startMachines: false, startTimeoutMs: o.giveUpMs });
  const result: SizeResult = {
    events,
    users,
    follows: o.follows,
    generator: null,
    diskBytesPerEvent: null,
    diskWithIndex: null,
    firstStart: SKIPPED,
    secondStart: SKIPPED,
    latency: SKIPPED,
    memory: SKIPPED,
    revival: SKIPPED,
    catchUp: SKIPPED,
    posts: SKIPPED,
    seconds: 0,
  };
  try {
    const dataDir = loadConfig(cluster.configFile).dataDir;
    if (events > 0) {
      o.progress(`${size}: generating (${users.toLocaleString('en-US')} users, ${o.follows} follows each)`);
      result.generator = await generateInto(dataDir, { events, users, follows: o.follows, seed: o.seed }, o.cache);
      o.progress(`${size}: generated at ${result.generator.eventsPerSec.toLocaleString('en-US')} events/s`);
      result.diskBytesPerEvent = bytesPerEvent(join(dataDir, 'm1'), events);
    }
    const probe = new PostProbe();
    try {
      o.progress(`${size}: first start`);
      result.firstStart = await attempt(o.giveUpMs, () => startMachines(cluster, o.giveUpMs, probe));
      if (!served(result.firstStart)) return result;

      const sample = Array.from({ length: LATENCY_SAMPLES }, (_, i) => (users > 0 ? historyUser(Math.floor((i * users) / LATENCY_SAMPLES), users) : `hb_${i}`));
      o.progress(`${size}: List and chat-mode entry latency`);
      result.latency = await attempt(o.giveUpMs, () => measureLatency(cluster, sample));
      result.memory = { value: peakMemory(cluster) };

      o.progress(`${size}: clean stop, second start`);
      result.secondStart = await attempt(o.giveUpMs * 2, async () => {
        await stopMachines(cluster, o.giveUpMs);
        return startMachines(cluster, o.giveUpMs, probe);
      });
      if (!served(result.secondStart)) return result;
      if (events > 0) result.diskWithIndex = bytesPerEvent(join(dataDir, 'm1'), events);
    } finally {
      probe.close();
    }

    o.progress(`${size}: revival after SIGKILL, ${o.kills} kills of each of ${REVIVAL_ROLES.join(', ')}`);
    const killDeadlineMs = Math.min(o.giveUpMs, KILL_DEADLINE_MS);
    result.revival = await attempt(REVIVAL_ROLES.length * o.kills * (3 * killDeadlineMs) + o.giveUpMs, async () => {
      const config = loadConfig(cluster.configFile);
      const runs = await killRuns(cluster, config, {
        kills: o.kills,
        deadlineMs: killDeadlineMs,
        probeIntervalMs: 20,
        statusIntervalMs: 50,
        postPauseMs: 10,
        roles: REVIVAL_ROLES,
        progress: (line) => o.progress(`${size}: ${line}`),
      });
      return runs.roles;
    });

    o.progress(`${size}: catch-up of m3 after missing ${o.missed.toLocaleString('en-US')} events`);
    // Its own waits: m1 and m2 converging (up to 2 min), m3 starting, catching up (2 min), dumps matching (1 min).
    result.catchUp = await attempt(5 * 60_000 + o.giveUpMs, () =>
      measureCatchUp(cluster, o.missed, { fillInFlight: 128, progress: (line) => o.progress(`${size}: ${line}`) }),
    );

    o.progress(`${size}: durable posts/s, own rooms and 4 rooms`);
    result.posts = await attempt(o.giveUpMs, async () => {
      const server = benchServerOf(cluster, 'm1');
      const scenario = { durationMs: POST_MS, connections: 8 };
      const ownRooms = await measurePosts(server, { name: '128 users, each posting to their own room', rooms: 128, lanes: 1, ...scenario });
      const fourRooms = await measurePosts(server, { name: '128 in flight into 4 rooms', rooms: 4, lanes: 32, ...scenario });
      return { ownRooms, fourRooms, sharePercent: Math.round((ownRooms.postsPerSec / fourRooms.postsPerSec) * 100) };
    });
    return result;
  } finally {
    result.seconds = Math.round((nowMs() - t0) / 1000);
    o.progress(`${size}: done in ${result.seconds} s; stopping the cluster`);
    await cluster.teardown();
  }
}

/** du's total; on a live machine a file may vanish under it (the room lock): du then says so and still totals the rest. */
function du(dir: string, apparent: boolean): number {
  const { stdout } = spawnSync('du', ['-s', apparent ? '--bytes' : '--block-size=1', dir], { encoding: 'utf8' });
  return Number(stdout.split('\t')[0]);
}

/** Races `fn` against a deadline; a miss or an error becomes "never (...)". The loser's own waits end it later. */
async function attempt<T>(deadlineMs: number, fn: () => Promise<T>): Promise<Figure<T>> {
  const t0 = nowMs();
  const gaveUp = (why?: string): Figure<T> => ({ never: `never (gave up after ${Math.round((nowMs() - t0) / 1000)} s${why ? `: ${why}` : ''})` });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      fn().then((value): Figure<T> => ({ value }), (err: unknown) => gaveUp(errorMessage(err))),
      new Promise<Figure<T>>((resolve) => (timer = setTimeout(() => resolve(gaveUp()), deadlineMs))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function served(f: Figure<StartTimes>): boolean {
  return 'value' in f && MACHINES.every((m) => f.value.firstPostMs[m] !== null && f.value.servingMs[m] !== null);
}

/** Spawns every machine's tree at once and probes each with Connect and Post on fresh connections. */
async function startMachines(cluster: TestCluster, deadlineMs: number, probe: PostProbe): Promise<StartTimes> {
  const t0 = nowMs();
  const rel = (t: number | null): number | null => (t === null ? null : Math.round(t - t0));
  const [posted, serving] = await Promise.all([
    Promise.all(MACHINES.map((m) => probeUntil(t0 + deadlineMs, PROBE_INTERVAL_MS, (ms) => probe.serves(cluster.address(m), ms)))),
    Promise.all(MACHINES.map((m) => cluster.start(m).then(() => nowMs(), () => null))),
  ]);
  return {
    firstPostMs: Object.fromEntries(MACHINES.map((m, i) => [m, rel(posted[i])])),
    servingMs: Object.fromEntries(MACHINES.map((m, i) => [m, rel(serving[i])])),
  };
}

/** SIGTERM each machine's `fbs start` (its primary, which stops its children and guardians) and wait for all to exit. */
async function stopMachines(cluster: TestCluster, deadlineMs: number): Promise<void> {
  await Promise.all(MACHINES.map((m) => cluster.stop(m)));
  await waitFor('every server process gone after a clean stop', () => cluster.pids().length === 0, deadlineMs, 50);
}

async function measureLatency(cluster: TestCluster, users: string[]): Promise<Latencies> {
  const client = chatClient(cluster.address('m1'));
  try {
    // Each user posts once first, so its timeline is never empty (the empty history has no other posts).
    for (const user of users) {
      await call(client, 'Connect', { user });
      await call(client, 'Post', { user, id: 'history-bench', text: 'history bench' });
    }
    const list: number[] = [];
    const timeline: number[] = [];
    const subscribe: number[] = [];
    const entry: number[] = [];
    for (const user of users) {
      let t = nowMs();
      await call(client, 'List', { user });
      list.push(nowMs() - t);
      t = nowMs();
      const history = (await call(client, 'Timeline', { user, limit: 0 })) as TimelineResponse__Output;
      const t1 = nowMs();
      await firstItem(client, user, oneEventBack(history));
      const t2 = nowMs();
      timeline.push(t1 - t);
      subscribe.push(t2 - t1);
      entry.push(t2 - t);
    }
    return { users: users.length, listMs: summarize(list), chatEntryMs: summarize(entry), timelineMs: summarize(timeline), subscribeMs: summarize(subscribe) };
  } finally {
    client.close();
  }
}

/**
 * The Timeline's cursor, one event short: the client subscribes from the Timeline's cursor,
 * and an open stream says nothing until an event comes; one event back, the server sends
 * the newest timeline event at once, so its arrival marks the stream open and registered.
 */
function oneEventBack(history: TimelineResponse__Output): Record<string, number> {
  const seqs = { ...(history.cursor?.seqs ?? {}) };
  const newest = history.events[history.events.length - 1];
  if (!newest) throw new Error('empty timeline');
  seqs[newest.origin] = newest.seq - 1;
  return seqs;
}

function firstItem(client: ChatClient, user: string, seqs: Record<string, number>): Promise<void> {
  return new Promise((resolve, reject) => {
    const s: ClientReadableStream<unknown> = client.Subscribe({ user, cursor: { seqs } }, { deadline: Date.now() + 10_000 });
    s.on('data', () => {
      resolve();
      s.cancel();
    });
    s.on('error', reject); // the cancel's CANCELLED comes after resolve, and changes nothing
  });
}

/** VmHWM of each machine's live workers and replicator. */
function peakMemory(cluster: TestCluster): Record<string, { workers: WorkerMemory[]; replicator: WorkerMemory[] }> {
  return Object.fromEntries(
    MACHINES.map((m) => {
      const byRole = benchServerOf(cluster, m).pidsByRole();
      return [m, { workers: processMemory(byRole.worker ?? []), replicator: processMemory(byRole.replicator ?? []) }];
    }),
  );
}

// ---------------------------------------------------------------- report

const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const secs = (ms: number | null): string => (ms === null ? 'never' : `${(ms / 1000).toFixed(2)} s`);
const never = (f: Figure<unknown>): string | null => ('never' in f ? f.never : null);
const ms = (x: number): string => (Number.isFinite(x) ? `${x < 10 ? x.toFixed(1) : int(x)} ms` : 'never');
const pct = (s: Summary): string => `p50 ${ms(s.p50)}, p99 ${ms(s.p99)}`;

export function historyRows(r: HistoryResult): [string, ...string[]][] {
  const rows: [string, ...string[]][] = [];
  const row = (metric: string, cell: (s: SizeResult) => string): void => {
    rows.push([metric, ...r.sizes.map(cell)]);
  };
  const of = <T>(pick: (s: SizeResult) => Figure<T>, show: (v: T, s: SizeResult) => string) => (s: SizeResult): string => {
    const f = pick(s);
    return never(f) ?? show((f as { value: T }).value, s);
  };
  row('users, follows each', (s) => `${int(s.users)}, ${s.follows}`);
  row('generator: events/s (m1 written, copied to m2, m3)', (s) => (s.generator ? `${int(s.generator.eventsPerSec)} /s (${secs(s.generator.writeMs + s.generator.copyMs)})` : '-'));
  const disk = (d: { apparent: number; allocated: number } | null): string => (d ? `${d.apparent} / ${d.allocated}` : '-');
  row('disk bytes per event: room files (file bytes / whole blocks)', (s) => disk(s.diskBytesPerEvent));
  row('disk bytes per event: with index and checkpoint', (s) => disk(s.diskWithIndex));
  const start = (v: StartTimes): string => {
    const times = MACHINES.map((m) => v.firstPostMs[m]);
    const slowest = times.some((t) => t === null) ? null : Math.max(...(times as number[]));
    return slowest === null ? `never: ${MACHINES.filter((m) => v.firstPostMs[m] === null).join(', ')} never served a post` : `${secs(v.firstPostMs.m1)} (all three: ${secs(slowest)})`;
  };
  row('first start on the data dir: first post served on m1', of((s) => s.firstStart, start));
  row('second start (after a clean stop): first post served on m1', of((s) => s.secondStart, start));
  for (const role of REVIVAL_ROLES) {
    row(`revival after SIGKILL: ${role}, median / max`, of((s) => s.revival, (roles) => {
      const x = roles.find((y) => y.role === role);
      return x ? `${ms(x.medianMs)} / ${ms(x.maxMs)}${x.misses ? ` (${x.misses} of ${x.kills} never)` : ''}` : 'not killed';
    }));
  }
  const peak = (which: 'workers' | 'replicator') => (v: Record<string, { workers: WorkerMemory[]; replicator: WorkerMemory[] }>): string =>
    MACHINES.map((m) => `${m} ${v[m][which].map((w) => `${Math.round(w.peakMb)}`).join(', ')}`).join('; ') + ' MB';
  row('peak RSS per worker', of((s) => s.memory, peak('workers')));
  row('peak RSS per replicator', of((s) => s.memory, peak('replicator')));
  row('catch-up of m3 after missing N events (start to caught up)', of((s) => s.catchUp, (c) => `${int(c.missed)} events: ${secs(c.caughtUpMs)} (dumps identical at ${secs(c.identicalMs)})`));
  row(`List latency (${LATENCY_SAMPLES} users)`, of((s) => s.latency, (l) => pct(l.listMs)));
  row('entering chat mode: Timeline + Subscribe open', of((s) => s.latency, (l) => `${pct(l.chatEntryMs)} (Timeline ${pct(l.timelineMs)})`));
  row('own-room durable posts/s as a share of 4-room posts/s', of((s) => s.posts, (p) => `${p.sharePercent} % (${int(p.ownRooms.postsPerSec)} / ${int(p.fourRooms.postsPerSec)} /s)`));
  row('suite time for this size', (s) => `${s.seconds} s`);
  return rows;
}

export function printHistoryReport(r: HistoryResult): void {
  console.log(
    `\nftchat history bench, 3 machines x ${r.workers} workers on this host, node ${r.node}, ${loadAverageText(r)}; ` +
      `gives up on any wait after ${r.options.giveUpMs / 1000} s\n`,
  );
  console.log(`| metric | ${r.sizes.map((s) => (s.events === 0 ? 'empty history' : `${int(s.events)} events`)).join(' | ')} |`);
  console.log(`|---|${r.sizes.map(() => '---').join('|')}|`);
  for (const row of historyRows(r)) console.log(`| ${row.join(' | ')} |`);
}

/** The headline figures an A/B compares (bench/ab.ts). */
export function historyFigures(r: HistoryResult): AbFigure[] {
  const known = <T>(f: Figure<T>): T | undefined => ('value' in f ? f.value : undefined);
  return r.sizes.flatMap((s): AbFigure[] => [
    [`second start, first post on m1 ms, ${s.events} events`, known(s.secondStart)?.firstPostMs.m1 ?? undefined],
    [`catch-up ms, ${s.events} events`, known(s.catchUp)?.caughtUpMs],
    [`own-room share of 4-room posts/s %, ${s.events} events`, known(s.posts)?.sharePercent],
  ]);
}
