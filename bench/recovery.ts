/**
 * The self-healing benchmark: SIGKILL each role of a real 2-machine cluster again
 * and again (one kill at a time, full recovery in between) and time how long until
 * its replacement is up and serving; the longest stall a client posting on that
 * machine saw meanwhile; and what an idle 3-machine tree costs in CPU and memory.
 * Each recovery is also broken into phases from the cluster's log lines and /proc
 * start times, so a miss says where the time went.
 */
import type { Figure } from './ab';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { clusterStatus, type ClusterStatus, type ProcessView } from '../lib/admin/status';
import { ChatConnection } from '../lib/client/connection';
import { authedChatClient } from '../lib/client/identity';
import { loadConfig, type ClusterConfig } from '../lib/common/config';
import { machineOfOrigin } from '../lib/core/origins';
import type { PostResponse__Output } from '../lib/gen/ftchat/PostResponse';
import { serverPids, testKeys, type LogLine, type TestCluster } from '../test/helpers/server';
import { waitFor } from '../test/helpers/wait';
import { atCount, census, waitForFull } from '../test/helpers/full-count';
import { startTree } from './server';
import { cpuMeter, cpuMs, loadAverageText, median, nowMs, residentMb, startRun, type RunHeader } from './stats';
import { startedAtMs, TICK_MS } from './proc-start';
import { credentialsFor } from '../test/helpers/trust';
import { errorMessage } from '../lib/common/log';
import { generateInto } from './history-cache';
import { HISTORY_MACHINES, usersFor } from './history-gen';
import { GOAL_GAP_MS, masterKillRuns, type MasterKillResult } from './master-kill';

export type Role = 'worker' | 'master' | 'replica' | 'replicator' | 'supervisor' | 'guardian';

export interface RecoveryOptions {
  /** SIGKILLs per role (the issue asks for at least 10). */
  kills?: number;
  /** A measurement that has not recovered by then counts as a miss, so the bench always ends. */
  deadlineMs?: number;
  probeIntervalMs?: number;
  statusIntervalMs?: number;
  /** The posting client's pause between an ack and its next post (bounds the data the bench writes). */
  postPauseMs?: number;
  /** Length of the idle CPU window of the 3-machine tree; given (`--idle`), it is measured whatever roles are killed. */
  idleMs?: number;
  /** Progress lines (default: stderr). */
  progress?: (line: string) => void;
  /** Roles to kill (default: every role); with fewer, the idle cost is measured only when idleMs is given. */
  roles?: Role[];
  /** What a user lives through when the master dies (bench/master-kill.ts): at the empty history and these sizes. */
  userView?: UserViewOptions;
}

export interface UserViewOptions {
  /** History sizes in events, beside the empty history unless `emptyFirst` is false (a smoke run). */
  sizes: number[];
  emptyFirst: boolean;
  users: number;
  follows: number;
  seed: number;
  /** Master kills per size. */
  kills: number;
  /** A dir keeping generated histories between runs (bench/history-cache.ts). */
  cache: string | null;
}

/** The suite's command-line options (node:util parseArgs), merged into bench/run.ts's. */
export const RECOVERY_ARGS = {
  roles: { type: 'string' },
  kills: { type: 'string' },
  idle: { type: 'string' },
  'master-kills': { type: 'string' },
} as const;

/**
 * From the command line: `--roles worker,master|none`, `--kills N` per role, `--idle` seconds; with `--master-kills N`
 * the user's view of a master kill too, sized by the history flags `--events --users --follows --seed --history-cache`.
 */
export function recoveryOptions(args: { [k: string]: string | string[] | boolean | undefined }): RecoveryOptions {
  const roles = typeof args.roles === 'string' ? (args.roles === 'none' ? [] : (args.roles.split(',') as Role[])) : undefined;
  const sizes = ((args.events as string[] | undefined) ?? ['1000000']).flatMap((x) => x.split(',')).map(Number).filter((n) => n > 0);
  const num = (v: unknown, dflt: number): number => (v === undefined ? dflt : Number(v));
  return {
    ...(roles ? { roles } : {}),
    ...(args.kills === undefined ? {} : { kills: num(args.kills, 10) }),
    ...(args.idle === undefined ? {} : { idleMs: num(args.idle, 60) * 1000 }),
    userView: args['master-kills'] === undefined ? undefined : {
      sizes,
      emptyFirst: !args.smoke,
      users: num(args.users, 100_000),
      follows: num(args.follows, 20),
      seed: num(args.seed, 1),
      kills: num(args['master-kills'], 5),
      cache: (args['history-cache'] as string | undefined) ?? null,
    },
  };
}

/** What the kill runs need (everything but the idle window). */
export type KillOptions = Required<Omit<RecoveryOptions, 'idleMs' | 'userView'>>;

export interface KillSample {
  round: number;
  victimPid: number;
  /** Processes of the machine started since the kill, and the CPU they had used at the recovery. */
  replacementProcesses: number;
  replacementCpuMs: number;
  /** The machine's rooms.lock was held when the SIGKILL landed (perhaps by the victim). */
  lockHeldAtKill: boolean;
  /** SIGKILL to "replacement up and serving"; null if the deadline passed first. */
  recoveredMs: number | null;
  /** When the serving probe first succeeded, and when status first showed the full count (ms after the kill). */
  servingMs: number | null;
  statusMs: number | null;
  /** Longest gap between consecutive acks of the client posting on the machine meanwhile. */
  stallMs: number | null;
  /** Milestones of the recovery, ms after the kill (see PHASES). */
  phases: Record<string, number>;
}

export interface RoleResult {
  role: Role;
  machine: string;
  kills: number;
  misses: number;
  medianMs: number;
  maxMs: number;
  maxStallMs: number;
  medianStallMs: number;
  /** Recovery split by whether rooms.lock was held at the kill (a dead holder's lock frees only when stale). */
  byLock: { held: { kills: number; medianMs: number }; free: { kills: number; medianMs: number } };
  /** Median CPU the replacement processes had used by the recovery (the rest of the wall time was waiting). */
  medianReplacementCpuMs: number;
  /** Median of each milestone over the kills, ms after the kill, in recovery order. */
  phaseMedians: [string, number][];
  samples: KillSample[];
}

export interface IdleCost {
  machines: string[];
  processes: number;
  seconds: number;
  /** Whole tree, % of one core. */
  cpuPercent: number;
  cpuByRole: Record<string, number>;
  processesByRole: Record<string, number>;
  rssMb: number;
  rssByRole: Record<string, number>;
  /** What everything else on this host used meanwhile (% of one core): other helpers' work. */
  otherLoadPercent: number;
}

export interface RecoveryResult extends RunHeader {
  timing: ClusterConfig['timing'];
  roles: RoleResult[];
  idle: IdleCost | null;
  /** A user's view of master kills, per history size. */
  userView: { events: number; users: number; result: MasterKillResult | { never: string } }[];
  /** How busy the whole host was during the kill runs (% of one core; 200 = both cores). */
  hostBusyPercent: number;
  /** Events the last restarted m1 worker loaded (every restart loads them all; the bench's own posts grow it). */
  eventsLoaded: number;
}

export const GOAL_MEDIAN_MS = 1_000;
export const GOAL_MAX_MS = 2_000;
export const GOAL_IDLE_CPU_PERCENT = 2;

const WORKERS = 2;
/** primary.ts re-forks a child that dies within 5 s of its fork with back-off; kills of one slot keep out of that. */
const CHILD_HEALTHY_AFTER_MS = 5_200;
const ACKS_BETWEEN_KILLS = 3;

type Serving = 'post' | 'post-by-replacement' | 'log' | 'status';

interface RoleSpec {
  role: Role;
  machine: string;
  /** How "serving" is proven beyond the status view. */
  serving: Serving;
}

const ROLE_SPECS: RoleSpec[] = [
  { role: 'worker', machine: 'm1', serving: 'post-by-replacement' },
  { role: 'master', machine: 'm1', serving: 'post' },
  { role: 'replica', machine: 'm1', serving: 'status' },
  { role: 'replicator', machine: 'm1', serving: 'log' },
  { role: 'supervisor', machine: 'm2', serving: 'post' },
  { role: 'guardian', machine: 'm2', serving: 'status' },
];

/** Recovery milestones per role: [label, how it is found]. */
type Milestone = [label: string, from: { log: string; nth?: number } | { started: 'victim-role' | 'first-worker' }];
const PRIMARY_PHASES = (role: string): Milestone[] => [
  ['guardian declares the primary dead', { log: 'primary is dead; starting an election' }],
  ['election won, new primary spawned', { log: 'won the election; starting a new primary' }],
  ['new primary process started', { started: 'victim-role' }],
  ['new primary in charge (fenced, admin port bound, locked)', { log: `${role} in charge` }],
  ['children forked', { log: 'primary forked its children' }],
  ['first worker process started', { started: 'first-worker' }],
  ['first worker loaded its room files', { log: 'loaded room files' }],
  ['first worker serving', { log: 'worker serving' }],
  [`all ${WORKERS} workers serving`, { log: 'worker serving', nth: WORKERS }],
  ['replicator serving', { log: 'replicator serving' }],
];
const CHILD_PHASES = (role: string): Milestone[] => [
  ['primary saw the exit, re-forks', { log: `${role} died; re-forking` }],
  [`new ${role} process started`, { started: 'victim-role' }],
  ...(role === 'worker' ? [['new worker loaded its room files', { log: 'loaded room files' }] as Milestone] : []),
  [`new ${role} serving (bound)`, { log: `${role} serving` }],
];
const GUARDIAN_PHASES: Milestone[] = [
  ['primary declares it dead, spawns a new one', { log: 'spawned guardian' }],
  ['new guardian process started', { started: 'victim-role' }],
  ['new guardian bound its admin port', { log: 'guardian watching the primary' }],
];
const PHASES: Record<Role, Milestone[]> = {
  worker: CHILD_PHASES('worker'),
  replicator: CHILD_PHASES('replicator'),
  master: PRIMARY_PHASES('master'),
  supervisor: PRIMARY_PHASES('supervisor'),
  replica: GUARDIAN_PHASES,
  guardian: GUARDIAN_PHASES,
};
const SERVING_LABEL: Record<Serving, string> = {
  post: 'a Post on the machine answered',
  'post-by-replacement': 'a Post answered by the new worker',
  log: 'replicator serving',
  status: '',
};
const STATUS_LABEL = 'status shows the full count up';
const LOCK_LABEL = 'rooms.lock held at the kill released or taken over';
const CLIENT_LABEL = 'posting client acknowledged again';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export async function benchRecovery(opts: RecoveryOptions = {}): Promise<RecoveryResult> {
  const measureIdle = opts.idleMs !== undefined || opts.roles === undefined || opts.roles.length === ROLE_SPECS.length;
  const o = {
    kills: 10,
    deadlineMs: 15_000,
    probeIntervalMs: 20,
    statusIntervalMs: 50,
    postPauseMs: 10,
    idleMs: 60_000,
    progress: (line: string) => console.error(line),
    roles: ROLE_SPECS.map((r) => r.role),
    ...opts,
  };
  const header = startRun(WORKERS);
  let roles: RoleResult[] = [];
  let hostBusyPercent = 0;
  let eventsLoaded = 0;
  let timing: ClusterConfig['timing'] | null = null;
  if (o.roles.length > 0) {
    o.progress('recovery: starting machines m1, m2');
    const cluster = await startTree(['m1', 'm2']);
    const config = loadConfig(cluster.configFile);
    timing = config.timing;
    try {
      const host = cpuMeter({});
      ({ roles, eventsLoaded } = await killRuns(cluster, config, o));
      hostBusyPercent = host.stop().otherLoad;
    } finally {
      await cluster.teardown();
    }
  }
  let idle: IdleCost | null = null;
  if (measureIdle) {
    o.progress('recovery: idle cost of a 3-machine tree');
    const tree = await startTree(['m1', 'm2', 'm3']);
    try {
      idle = await idleCost(tree, o.idleMs);
    } finally {
      await tree.teardown();
    }
  }
  const userView: RecoveryResult['userView'] = [];
  for (const events of !o.userView ? [] : o.userView.emptyFirst ? [0, ...o.userView.sizes] : o.userView.sizes) {
    const view = await userViewAt(events, o.userView!, o.progress);
    timing ??= view.timing;
    userView.push(view);
  }
  return { ...header(), timing: timing ?? loadConfig(undefined).timing, roles, idle, hostBusyPercent, eventsLoaded, userView };
}

/** Three machines on a generated history of `events`, and a user on m1 through `kills` master kills. */
async function userViewAt(events: number, v: UserViewOptions, progress: (line: string) => void): Promise<RecoveryResult['userView'][number] & { timing: ClusterConfig['timing'] }> {
  const users = usersFor(events, v.follows, v.users);
  const size = `${events.toLocaleString('en-US')} events`;
  const cluster = await startTree(HISTORY_MACHINES, WORKERS, { startMachines: false, startTimeoutMs: 20 * 60_000 });
  const config = loadConfig(cluster.configFile);
  try {
    if (events > 0) {
      progress(`recovery: ${size}: history (${users.toLocaleString('en-US')} users, ${v.follows} follows each)`);
      await generateInto(config.dataDir, { events, users, follows: v.follows, seed: v.seed }, v.cache);
    }
    progress(`recovery: ${size}: starting m1, m2, m3`);
    await Promise.all(HISTORY_MACHINES.map((m) => cluster.start(m)));
    progress(`recovery: ${size}: ${v.kills} master kills with a user on m1`);
    const result = await masterKillRuns(cluster, config, { kills: v.kills, deadlineMs: 30_000, typeEveryMs: 100, progress: (line) => progress(`recovery: ${size}: ${line}`) })
      .catch((err: unknown): { never: string } => ({ never: errorMessage(err) }));
    return { events, users, result, timing: config.timing };
  } finally {
    await cluster.teardown();
  }
}

/** `o.kills` SIGKILLs of each of `o.roles` on a running cluster of at least m1 and m2. */
export async function killRuns(
  cluster: TestCluster,
  config: ClusterConfig,
  o: KillOptions,
): Promise<{ roles: RoleResult[]; eventsLoaded: number }> {
  const healthy = await waitForFull(config, (s) => atCount(s, null), Math.max(30_000, o.deadlineMs), 100);
  const expected = census(healthy);
  const isHealthy = (s: ClusterStatus): boolean => atCount(s, expected);
  const wanted = ROLE_SPECS.filter((r) => o.roles.includes(r.role));
  const specs = wanted.filter((r) => expected[`${r.machine}/${r.role}`]);
  for (const r of wanted) if (!specs.includes(r)) o.progress(`recovery: no ${r.role} on ${r.machine} in status; skipped`);

  const posters = new Map(['m1', 'm2'].map((m) => [m, new Poster(cluster.address(m), `bench_${m}`, o.postPauseMs)]));
  const probe = new PostProbe();
  const samples = new Map<Role, KillSample[]>(specs.map((r) => [r.role, []]));
  // When each child slot was last (re)forked because of us: see CHILD_HEALTHY_AFTER_MS.
  const childForked = new Map<string, number>();
  try {
    for (const m of posters.keys()) await probe.connect(cluster.address(m));
    // Interleaved rounds: every slot gets time to become healthy before its next kill.
    for (let round = 0; round < o.kills; round++) {
      for (const spec of specs) {
        for (const [m, p] of posters) p.active = m === spec.machine;
        const poster = posters.get(spec.machine)!;
        const before = await settle(config, isHealthy, poster, o.deadlineMs * 2);
        const victim = pickVictim(before, spec, round, poster.lastOrigin);
        const key = `${spec.machine}/${spec.role}/${victim.slot}`;
        await sleep((childForked.get(key) ?? 0) + CHILD_HEALTHY_AFTER_MS - nowMs());

        const sample = await measureKill(cluster, config, spec, victim, round, poster, probe, o);
        samples.get(spec.role)!.push(sample);
        const forked = nowMs();
        if (spec.role === 'worker' || spec.role === 'replicator') childForked.set(key, forked);
        if (spec.role === 'master' || spec.role === 'supervisor') {
          // A new primary forks every child anew.
          for (let slot = 0; slot < WORKERS; slot++) childForked.set(`${spec.machine}/worker/${slot}`, forked);
          childForked.set(`${spec.machine}/replicator/0`, forked);
        }
        o.progress(
          `recovery: ${spec.role} #${round + 1} (pid ${victim.pid}): ${fmt(sample.recoveredMs)}, client stall ${fmt(sample.stallMs)}`,
        );
      }
    }
    // Phases need the whole recovery logged: collected once the last kill has settled too.
    await settle(config, isHealthy, posters.get(specs[specs.length - 1].machine)!, o.deadlineMs * 2);
  } finally {
    for (const p of posters.values()) await p.stop();
    probe.close();
  }
  const eventsLoaded = cluster.logs.filter((l) => l.msg === 'loaded room files' && l.machine === 'm1').map((l) => Number(l.events)).pop() ?? 0;
  return { roles: specs.map((s) => summarizeRole(s, samples.get(s.role)!)), eventsLoaded };
}

/** Waits for the whole cluster at full count and for the machine's poster to be acknowledged again. */
async function settle(config: ClusterConfig, isHealthy: (s: ClusterStatus) => boolean, poster: Poster, timeoutMs: number): Promise<ClusterStatus> {
  const s = await waitForFull(config, isHealthy, timeoutMs, 50);
  const acks = poster.acks.length;
  await waitFor('the posting client acknowledged again', () => poster.acks.length >= acks + ACKS_BETWEEN_KILLS, timeoutMs, 10);
  return s;
}

function pickVictim(s: ClusterStatus, spec: RoleSpec, round: number, posterOrigin: string): ProcessView {
  const candidates = s.processes.filter((p) => p.machine === spec.machine && p.role === spec.role);
  // The worker serving the posting client (its stall is the one that counts); guardians alternate slots.
  const slot = spec.role === 'worker' ? Number(posterOrigin.replace(/^.*\.w/, '')) : round % candidates.length;
  return candidates.find((p) => p.slot === slot) ?? candidates[0];
}

async function measureKill(
  cluster: TestCluster,
  config: ClusterConfig,
  spec: RoleSpec,
  victim: ProcessView,
  round: number,
  poster: Poster,
  probe: PostProbe,
  o: KillOptions,
): Promise<KillSample> {
  const since = cluster.logs.length;
  const killedAt = nowMs();
  const deadline = killedAt + o.deadlineMs;
  process.kill(victim.pid, 'SIGKILL');

  const replaced = (s: ClusterStatus): ProcessView[] | null => {
    const mine = s.processes.filter((p) => p.machine === spec.machine && p.role === spec.role);
    const full = mine.length === countOf(spec) && mine.every((p) => p.state === 'up' && p.pid !== victim.pid);
    return full ? mine : null;
  };
  let recovered: ProcessView[] | null = null;
  const statusBack = async (): Promise<number | null> => {
    while (nowMs() < deadline) {
      const s = await clusterStatus(config).catch(() => null);
      recovered = s && replaced(s);
      if (recovered) return nowMs();
      await sleep(o.statusIntervalMs);
    }
    return null;
  };
  const address = cluster.address(spec.machine);
  const isVictimsSlot = (origin: string): boolean => machineOfOrigin(origin) === spec.machine && origin.endsWith(`.w${victim.slot}`);
  const servingBack = async (): Promise<number | null> => {
    if (spec.serving === 'status') return killedAt;
    if (spec.serving === 'log') {
      while (nowMs() < deadline) {
        const l = cluster.logs.slice(since).find((x) => x.machine === spec.machine && x.msg === 'replicator serving');
        if (l) return logTime(l);
        await sleep(o.probeIntervalMs);
      }
      return null;
    }
    return probeUntil(deadline, o.probeIntervalMs, async (timeoutMs) => {
      const a = await probe.post(address, timeoutMs);
      return a !== null && (spec.serving === 'post' || isVictimsSlot(a.event?.origin ?? ''));
    });
  };
  // A writer killed inside a commit leaves the machine's rooms.lock behind: every writer waits until it is stale.
  const lockPath = join(config.dataDir, spec.machine, 'rooms.lock');
  const lockAtKill = lockMtime(lockPath);
  const lockFreed = async (): Promise<number | null> => {
    while (lockAtKill !== null && nowMs() < deadline) {
      if (lockMtime(lockPath) !== lockAtKill) return nowMs();
      await sleep(10);
    }
    return null;
  };
  const [statusAt, servingAt, lockFreedAt] = await Promise.all([statusBack(), servingBack(), lockFreed()]);
  const recoveredAt = statusAt !== null && servingAt !== null ? Math.max(statusAt, servingAt) : null;
  // How much of the recovery was work and how much waiting (for a busy CPU, or for a timer).
  const replacements = serverPids(config.file, spec.machine).filter((pid) => startedAtMs(pid) >= killedAt - TICK_MS);
  const replacementCpuMs = replacements.reduce((sum, pid) => sum + cpuMs(pid), 0);

  // The client's stall: from its last ack before the kill to its first after the recovery.
  const firstAckAfter = (t: number): number | undefined => poster.acks.find((a) => a >= t);
  const stallEnd = recoveredAt === null ? undefined : await waitFor('an ack after the recovery', () => firstAckAfter(recoveredAt), o.deadlineMs, 10).catch(() => undefined);
  const window = poster.acks.filter((a) => a <= (stallEnd ?? nowMs()));
  let from = window.length - 1;
  while (from >= 0 && window[from] > killedAt) from--;
  let stallMs: number | null = null;
  if (from >= 0 && stallEnd !== undefined) {
    stallMs = 0;
    for (let i = from + 1; i < window.length; i++) stallMs = Math.max(stallMs, window[i] - window[i - 1]);
  }

  const rel = (t: number | null): number | null => (t === null ? null : Math.round(t - killedAt));
  const phases = milestones(cluster.logs.slice(since), spec, recovered, killedAt);
  if (spec.serving !== 'status' && servingAt !== null) phases[SERVING_LABEL[spec.serving]] = rel(servingAt)!;
  if (statusAt !== null) phases[STATUS_LABEL] = rel(statusAt)!;
  if (lockFreedAt !== null) phases[LOCK_LABEL] = rel(lockFreedAt)!;
  if (stallEnd !== undefined) phases[CLIENT_LABEL] = rel(stallEnd)!;
  return { round, victimPid: victim.pid, replacementProcesses: replacements.length, replacementCpuMs, lockHeldAtKill: lockAtKill !== null, recoveredMs: rel(recoveredAt), servingMs: rel(servingAt), statusMs: rel(statusAt), stallMs: stallMs === null ? null : Math.round(stallMs), phases };
}

function countOf(spec: RoleSpec): number {
  return spec.role === 'worker' ? WORKERS : spec.role === 'replica' || spec.role === 'guardian' ? 2 : 1;
}

/** Milestones found so far (ms after the kill) in the log lines since the kill and in /proc. */
function milestones(logs: LogLine[], spec: RoleSpec, recovered: ProcessView[] | null, killedAt: number): Record<string, number> {
  const out: Record<string, number> = {};
  const here = logs.filter((l) => l.machine === spec.machine);
  const newPids = new Set(recovered?.map((p) => p.pid) ?? []);
  for (const [label, from] of PHASES[spec.role]) {
    let t: number | undefined;
    if ('log' in from) {
      const hits = here.filter((l) => l.msg === from.log);
      const hit = hits[(from.nth ?? 1) - 1];
      t = hit && logTime(hit);
    } else if (from.started === 'victim-role') {
      const starts = [...newPids].map(startedAtMs).filter((x) => x > 0);
      t = starts.length ? Math.min(...starts.filter((x) => x >= killedAt - 20), Infinity) : undefined;
    } else {
      const workers = new Set(here.filter((l) => l.msg === 'worker serving').map((l) => l.pid));
      const starts = [...workers].map(startedAtMs).filter((x) => x > 0);
      t = starts.length ? Math.min(...starts) : undefined;
    }
    if (t !== undefined && Number.isFinite(t)) out[label] = Math.round(t - killedAt);
  }
  return out;
}

function lockMtime(path: string): number | null {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}

function logTime(l: LogLine): number {
  return Date.parse(String(l.time));
}

function summarizeRole(spec: RoleSpec, samples: KillSample[]): RoleResult {
  const times = samples.map((s) => s.recoveredMs ?? Infinity);
  const stalls = samples.map((s) => s.stallMs ?? Infinity);
  const labels: string[] = [];
  for (const s of samples) for (const l of Object.keys(s.phases)) if (!labels.includes(l)) labels.push(l);
  const phaseMedians = labels
    .map((l): [string, number] => [l, median(samples.flatMap((s) => (l in s.phases ? [s.phases[l]] : [])))])
    .sort((a, b) => a[1] - b[1]);
  return {
    role: spec.role,
    machine: spec.machine,
    kills: samples.length,
    misses: samples.filter((s) => s.recoveredMs === null).length,
    medianMs: median(times),
    maxMs: Math.max(...times),
    maxStallMs: Math.max(...stalls),
    medianStallMs: median(stalls),
    medianReplacementCpuMs: median(samples.map((s) => s.replacementCpuMs)),
    byLock: {
      held: { kills: samples.filter((s) => s.lockHeldAtKill).length, medianMs: median(samples.filter((s) => s.lockHeldAtKill).map((s) => s.recoveredMs ?? Infinity)) },
      free: { kills: samples.filter((s) => !s.lockHeldAtKill).length, medianMs: median(samples.filter((s) => !s.lockHeldAtKill).map((s) => s.recoveredMs ?? Infinity)) },
    },
    phaseMedians,
    samples,
  };
}

async function idleCost(tree: TestCluster, idleMs: number): Promise<IdleCost> {
  const config = loadConfig(tree.configFile);
  const expected = Object.fromEntries(Object.keys(config.machines).flatMap((m) => [[`${m}/worker`, WORKERS], [`${m}/replicator`, 1]]));
  const status = await waitForFull(config, (s) => atCount(s, expected), 30_000, 200);
  // Let start-up work (JIT, first replication pulls, V8 settling its heaps) finish before the
  // quiet window: an idle tree is one that has been idle a while.
  await sleep(20_000);
  const roleOf = new Map(status.processes.map((p) => [p.pid, p.role]));
  const pids = serverPids(tree.configFile);
  const cpu0 = new Map(pids.map((p) => [p, cpuMs(p)]));
  const meter = cpuMeter({ tree: pids });
  const t0 = nowMs();
  await sleep(idleMs);
  const elapsed = nowMs() - t0;
  const { otherLoad } = meter.stop();
  const pct = (ms: number): number => Math.round((ms / elapsed) * 1000) / 10;
  const cpuByRole: Record<string, number> = {};
  const rssByRole: Record<string, number> = {};
  const processesByRole: Record<string, number> = {};
  let cpu = 0;
  let rss = 0;
  for (const pid of pids) {
    const role = roleOf.get(pid) ?? 'other';
    const used = cpuMs(pid) - cpu0.get(pid)!;
    const mb = residentMb(pid).now;
    cpu += used;
    rss += mb;
    cpuByRole[role] = (cpuByRole[role] ?? 0) + used;
    processesByRole[role] = (processesByRole[role] ?? 0) + 1;
    rssByRole[role] = Math.round(((rssByRole[role] ?? 0) + mb) * 10) / 10;
  }
  const gone = pids.filter((p) => !serverPids(tree.configFile).includes(p));
  if (gone.length) throw new Error(`idle tree lost processes during the window: ${gone.join(', ')}`);
  return {
    machines: Object.keys(config.machines),
    processes: pids.length,
    seconds: Math.round(elapsed / 100) / 10,
    cpuPercent: pct(cpu),
    cpuByRole: Object.fromEntries(Object.entries(cpuByRole).map(([k, v]) => [k, pct(v)])),
    processesByRole,
    rssMb: Math.round(rss),
    rssByRole,
    otherLoadPercent: otherLoad,
  };
}


/**
 * A user posting to their own room through the real client link (lib/client's
 * ChatConnection, as `fbc -s <machine>` does): one post in flight, a failed post
 * retried with the same id, the time of every ack recorded.
 */
class Poster {
  readonly acks: number[] = [];
  lastOrigin = '';
  active = false;
  private stopped = false;
  private readonly conn: ChatConnection;
  private readonly loop: Promise<void>;

  constructor(address: string, private readonly user: string, private readonly pauseMs: number) {
    this.conn = new ChatConnection(testKeys.identity(user), [address], credentialsFor(address));
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    for (let n = 0; !this.stopped; ) {
      if (!this.active) {
        await sleep(20);
        continue;
      }
      try {
        const res = await this.conn.call('Post', { user: this.user, id: `${this.user}-${n}`, text: `post ${n}` });
        this.acks.push(nowMs());
        this.lastOrigin = res.event?.origin ?? '';
        n++;
        await sleep(this.pauseMs);
      } catch {
        if (!this.stopped) await sleep(20); // same id again: a retry is stored once
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.conn.close();
    await this.loop;
  }
}

/**
 * When `attempt` first succeeds (wall-clock ms), or null at the deadline. A new attempt starts
 * every interval without waiting for slow ones (a connection handed to a worker as it dies hangs
 * until its deadline): node:cluster hands each new connection to the next worker, so one soon
 * reaches a live one.
 */
export function probeUntil(deadline: number, intervalMs: number, attempt: (timeoutMs: number) => Promise<boolean>): Promise<number | null> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (at: number | null): void => {
      if (done) return;
      done = true;
      clearInterval(timer);
      resolve(at);
    };
    const timer = setInterval(() => {
      if (nowMs() >= deadline) return finish(null);
      void attempt(Math.min(1_000, deadline - nowMs())).then((ok) => ok && finish(nowMs()), () => undefined);
    }, intervalMs);
  });
}

/** One Post on a fresh connection per attempt (cluster balancing hands each new connection to the next worker). */
export class PostProbe {
  private n = 0;
  private readonly open = new Set<grpc.Client>();
  static readonly USER = 'bench_probe';

  async connect(address: string): Promise<void> {
    await waitFor(`${PostProbe.USER} connected at ${address}`, () => this.unary(address, 'Connect', { user: PostProbe.USER }, 2_000), 15_000);
  }

  /** Connect (creating the probe's user if need be), then Post: true once both are answered. */
  async serves(address: string, timeoutMs: number): Promise<boolean> {
    return (await this.unary(address, 'Connect', { user: PostProbe.USER }, timeoutMs)) !== null && (await this.post(address, timeoutMs)) !== null;
  }

  post(address: string, timeoutMs: number): Promise<PostResponse__Output | null> {
    const id = `probe-${process.pid}-${this.n++}`;
    return this.unary(address, 'Post', { user: PostProbe.USER, id, text: 'probe' }, timeoutMs) as Promise<PostResponse__Output | null>;
  }

  close(): void {
    for (const c of this.open) c.close();
  }

  private unary(address: string, method: 'Connect' | 'Post', req: object, timeoutMs: number): Promise<unknown> {
    const client = authedChatClient(address, testKeys, { 'grpc.use_local_subchannel_pool': 1 }, credentialsFor(address));
    this.open.add(client);
    return new Promise((resolve) => {
      (client[method] as unknown as (r: object, o: grpc.CallOptions, cb: (e: unknown, v: unknown) => void) => void).call(
        client,
        req,
        { deadline: Date.now() + timeoutMs },
        (err, res) => {
          client.close();
          this.open.delete(client);
          resolve(err ? null : res);
        },
      );
    });
  }
}

const fmt = (ms: number | null): string =>
  ms !== null && Number.isNaN(ms) ? '-' : ms === null || !Number.isFinite(ms) ? 'missed the deadline' : `${Math.round(ms)} ms`;
const mark = (ok: boolean): string => (ok ? 'met' : 'MISSED');

/** The table rows (metric | result | goal). */
export function recoveryRows(r: RecoveryResult): [string, string, string][] {
  const rows: [string, string, string][] = [];
  for (const x of r.roles) {
    const missed = x.misses ? `, ${x.misses} past the deadline` : '';
    rows.push([
      `recovery after SIGKILL: ${x.role} (${x.machine}), ${x.kills} kills`,
      `median ${fmt(x.medianMs)}, max ${fmt(x.maxMs)}${missed}`,
      `median < ${GOAL_MEDIAN_MS} ms, max < ${GOAL_MAX_MS} ms: ${mark(x.medianMs < GOAL_MEDIAN_MS && x.maxMs < GOAL_MAX_MS)}`,
    ]);
  }
  for (const x of r.roles) {
    rows.push([`longest stall of a client posting on ${x.machine}: ${x.role} kills`, `max ${fmt(x.maxStallMs)} (median ${fmt(x.medianStallMs)})`, '']);
  }
  const i = r.idle;
  if (i) {
    rows.push([
      `idle CPU, ${i.machines.length}-machine tree (${i.processes} processes, ${i.seconds} s)`,
      `${i.cpuPercent} % of one core`,
      `< ${GOAL_IDLE_CPU_PERCENT} %: ${mark(i.cpuPercent < GOAL_IDLE_CPU_PERCENT)}`,
    ]);
    rows.push([`idle RSS, ${i.machines.length}-machine tree`, `${i.rssMb} MB in total`, '']);
  }
  for (const v of r.userView) {
    const x = v.result;
    rows.push([
      `a user on m1 posting every 100 ms, m1's master SIGKILLed: longest gap between two posts back, ${v.events.toLocaleString('en-US')} events`,
      'never' in x ? x.never : `max ${fmt(x.maxGapMs)}, median ${fmt(x.medianGapMs)}, ${x.kills} kills${x.misses ? `, ${x.misses} with no post back within 30 s` : ''}`,
      'never' in x ? '' : `< ${GOAL_GAP_MS} ms in every kill: ${mark(x.misses === 0 && x.maxGapMs < GOAL_GAP_MS)}`,
    ]);
  }
  return rows;
}

export function printRecoveryReport(r: RecoveryResult): void {
  const t = r.timing;
  console.log(
    `\nftchat recovery bench, ${r.workers} workers per machine, heartbeat ${t.heartbeatMs} ms, dead after ${t.deadAfterMs} ms, ` +
      `node ${r.node}, ${loadAverageText(r)}; ` +
      `the host's 2 cores were ${r.hostBusyPercent} % of one core busy during the kill runs\n`,
  );
  console.log('| metric | result | goal |');
  console.log('|---|---|---|');
  for (const row of recoveryRows(r)) console.log(`| ${row.join(' | ')} |`);

  console.log('\nWhere the recovery time goes (median ms after the SIGKILL):');
  for (const x of r.roles) {
    const { held, free } = x.byLock;
    console.log(`- ${x.role}: ${x.phaseMedians.map(([l, ms]) => `${l} ${ms}`).join(' → ')}`);
    console.log(
      `  (new processes had used ${x.medianReplacementCpuMs} ms of CPU by the recovery, median; ` +
        `rooms.lock held at the kill in ${held.kills} of ${x.kills}: median ${fmt(held.medianMs)}, otherwise ${fmt(free.medianMs)})`,
    );
  }
  const idle = r.idle;
  if (idle) {
    const per = (m: Record<string, number>, unit: string): string =>
      Object.entries(m).map(([k, v]) => `${k} x${idle.processesByRole[k]} ${v}${unit}`).join(', ');
    console.log(`\nIdle tree by role: CPU ${per(idle.cpuByRole, ' %')}; RSS ${per(idle.rssByRole, ' MB')}.`);
    console.log(`Everything else on this host used ${idle.otherLoadPercent} % of a core meanwhile (2 cores).`);
  }
  if (r.roles.length > 0) console.log(`The last restarted m1 worker loaded ${r.eventsLoaded} events (the bench's own posts).`);
  printUserView(r);
}

/** The master kill as the user lives it: each step's own time (median / max over the kills), one column per history size. */
function printUserView(r: RecoveryResult): void {
  const sized = r.userView.flatMap((v) => ('never' in v.result ? [] : [{ ...v, result: v.result }]));
  if (sized.length === 0) return;
  console.log("\nA master kill as the user on m1 lives it: each step's own time, median / max over the kills (ms), and when it ended (median ms after the SIGKILL)");
  console.log(`| step | ${sized.map((v) => `${v.events.toLocaleString('en-US')} events (${v.users.toLocaleString('en-US')} users)`).join(' | ')} |`);
  console.log(`|---|${sized.map(() => '---').join('|')}|`);
  for (const [i, { label }] of sized[0].result.steps.entries()) {
    const cell = (x: MasterKillResult): string => {
      const st = x.steps[i];
      return Number.isNaN(st.medianMs) ? '-' : `${Math.round(st.medianMs)} / ${Math.round(st.maxMs)} (at ${Math.round(st.medianAtMs)})`;
    };
    console.log(`| ${label} | ${sized.map((v) => cell(v.result)).join(' | ')} |`);
  }
  console.log(`| the user's longest gap, max (median) | ${sized.map((v) => `${fmt(v.result.maxGapMs)} (${fmt(v.result.medianGapMs)})${v.result.misses ? `, ${v.result.misses} of ${v.result.kills} never back within 30 s` : ''}`).join(' | ')} |`);
}

/** The headline figures an A/B compares (bench/ab.ts). */
export function recoveryFigures(r: RecoveryResult): Figure[] {
  return [
    ...r.roles.flatMap((role): Figure[] => [
      [`${role.role} revival median ms`, role.medianMs],
      [`${role.role} client stall max ms`, role.maxStallMs],
    ]),
    ['idle tree CPU % of one core', r.idle?.cpuPercent],
    ...r.userView.flatMap((v): Figure[] => {
      const res = 'maxGapMs' in v.result ? v.result : null;
      return [
        [`master kill, user's longest gap ms, ${v.events} events`, res?.maxGapMs],
        [`master kill, user's median gap ms, ${v.events} events`, res?.medianGapMs],
        ...(res?.steps ?? []).map((st): Figure => [`master kill step median ms, ${v.events} events: ${st.label}`, Number.isNaN(st.medianMs) ? undefined : st.medianMs]),
      ];
    }),
  ];
}
