/**
 * What the power-loss tests share: a cluster whose machines' data dirs are
 * power-loss disks (lib/chaos/lazy-mount over test/tools/lazyfs), power cuts with
 * the reboot after them, and a workload that remembers every post the cluster
 * acknowledged, to check that each is stored exactly once everywhere afterwards.
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Test } from 'tap';
import type { ChatClient } from '../../lib/gen/ftchat/Chat';
import { LazyMount, type CutOptions, type CutReport, type Trap } from '../../lib/chaos/lazy-mount';
import { waitFor } from './wait';
import { call, converged, dumpEvents, RAISED_QUOTAS, startCluster, type ClusterOptions, type TestCluster } from './server';

/** An armed cut strikes while a machine starts, and a machine's start may take this long on a loaded host (see server.ts). */
const START_MS = 90_000;

export interface PowerCluster {
  cluster: TestCluster;
  disks: Record<string, LazyMount>;
  /** Cuts these machines' power at once (each disk drops what it had not synced), then kills their processes. */
  cut(machines: string[], o?: CutOptions): Promise<CutReport[]>;
  /** Arms a cut on a machine's disk, to strike at an operation (see struck). */
  arm(machine: string, trap: Trap): Promise<void>;
  /** Once the machine's armed cut struck: kills its processes; returns the cut's report. */
  struck(machine: string, timeoutMs?: number): Promise<CutReport>;
  /** The boot after a cut: a new mount (a new boot id) and `fbs start`, as the machine's unit would; resolves once they serve. */
  boot(machines: string[]): Promise<void>;
  /** The boot's halves: a new mount of the machine's disk (a cut can be armed on it then) ... */
  remount(machine: string): Promise<void>;
  /** ... and `fbs start`, resolving once the machine serves. */
  start(machine: string): Promise<unknown>;
  /** Starts the machine with a cut armed on its disk; once it struck, boots it again (resolving once it serves) and returns the cut's report. */
  cutDuringStart(machine: string, trap: Trap): Promise<CutReport>;
  teardown(): Promise<void>;
}

/** A cluster on power-loss disks (the caller checks lazyFsUnavailable first). */
export async function startPowerCluster(opts: ClusterOptions & { machines: string[] }): Promise<PowerCluster> {
  const cluster = await startCluster({ quotas: RAISED_QUOTAS, ...opts, startMachines: false });
  const disks: Record<string, LazyMount> = {};
  for (const m of opts.machines) {
    disks[m] = new LazyMount(join(cluster.dir, 'disks', m), join(cluster.dir, 'data', m));
    await disks[m].mount();
  }
  const start = (m: string): Promise<unknown> => cluster.start(m, disks[m].env());
  const power: PowerCluster = {
    cluster,
    disks,
    async cut(machines, o = {}) {
      const reports: CutReport[] = [];
      for (const m of machines) reports.push(await disks[m].cut(o));
      await Promise.all(machines.map((m) => cluster.killMachine(m)));
      return reports;
    },
    arm(machine, trap) {
      return disks[machine].arm(trap);
    },
    async struck(machine, timeoutMs = START_MS) {
      const report = await disks[machine].nextCut(timeoutMs);
      await cluster.killMachine(machine);
      return report;
    },
    async boot(machines) {
      for (const m of machines) await disks[m].boot();
      await Promise.all(machines.map(start));
    },
    remount: (m) => disks[m].boot(),
    start,
    async cutDuringStart(m, trap) {
      await disks[m].arm(trap);
      const starting = start(m).catch((err: Error) => err); // it fails, or serves before the cut strikes
      const report = await power.struck(m);
      await starting;
      await power.boot([m]);
      return report;
    },
    async teardown() {
      for (const m of opts.machines) await cluster.killMachine(m).catch(() => undefined);
      for (const m of opts.machines) await disks[m].unmount().catch(() => undefined);
      await cluster.teardown();
    },
  };
  if (opts.startMachines !== false) await Promise.all(opts.machines.map(start));
  return power;
}

/**
 * Users posting without pause, each through one machine, each post retried with
 * its id until it is acknowledged (as fbc does), so a retry after a power cut must
 * not store it twice. Remembers every acknowledged id.
 */
export class Posters {
  readonly acked = new Set<string>();
  /** Calls that failed (the machine was cut, or down): each was retried. */
  failures = 0;
  private running = true;
  private loops: Promise<void>[] = [];
  private readonly users: { user: string; client: ChatClient; next: number }[] = [];

  constructor(private readonly cluster: TestCluster, readonly prefix: string) {}

  /** Starts a user posting through `machine` (its room is made there first). */
  async add(user: string, machine: string): Promise<void> {
    const client = this.cluster.client(machine);
    await call(client, 'Connect', { user });
    const u = { user, client, next: 0 };
    this.users.push(u);
    if (this.running) this.loops.push(this.post(u));
  }

  /** The users posting, for a reader to follow. */
  get rooms(): string[] {
    return this.users.map((u) => u.user);
  }

  /** Waits until `n` more posts were acknowledged. */
  async more(n: number, timeoutMs = 60_000): Promise<void> {
    const target = this.acked.size + n;
    await waitFor(`${target} posts acknowledged (${this.acked.size} so far)`, () => this.acked.size >= target, timeoutMs);
  }

  /** Stops posting once each user's post in flight is acknowledged (its machine is up). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  /** Posting again after stop(). */
  resume(): void {
    this.running = true;
    this.loops = this.users.map((u) => this.post(u));
  }

  private async post(u: { user: string; client: ChatClient; next: number }): Promise<void> {
    const { user, client } = u;
    while (this.running) {
      const n = u.next++;
      const id = `${this.prefix}-${user}-${n}`;
      for (;;) {
        try {
          const ack = await call(client, 'Post', { user, id, text: `post ${n} of ${user}` });
          this.acked.add(ack.event.id);
          break;
        } catch {
          this.failures++;
          await pause(100); // retry pacing, as fbc's backoff
        }
      }
    }
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface AckCheck {
  /** Acknowledged posts missing from the machines' (identical) dumps, and ids stored there twice. */
  missing: string[];
  twice: string[];
  /** Per machine, what a reader following every poster is shown through the origin index (Poll from nothing): missing, and shown twice. */
  readers: Record<string, { missing: string[]; twice: string[]; shown: number }>;
}

/**
 * Once the machines' dumps are identical: every acknowledged post is in them exactly
 * once, and a reader on each machine who follows every poster is shown each exactly
 * once by Poll, which reads through the origin index (what a resumed stream and a
 * catching-up peer read). Call it with the posters stopped.
 */
export async function checkAcked(cluster: TestCluster, machines: string[], posters: Posters): Promise<AckCheck> {
  const since = cluster.logs.length;
  try {
    return await readBack(cluster, machines, posters);
  } catch (err) {
    // What the servers said meanwhile is what explains it.
    const said = cluster.logs.slice(since).filter((l) => l.level === 'error' || l.level === 'raw').slice(-15);
    throw new Error(`${(err as Error).message}\nserver errors meanwhile:\n${said.map((l) => `  ${l.machine} ${l.role} ${l.msg} ${JSON.stringify(l).slice(0, 400)}`).join('\n')}`);
  }
}

async function readBack(cluster: TestCluster, machines: string[], posters: Posters): Promise<AckCheck> {
  const dump = await converged(cluster, machines, 120_000);
  const stored = countIds(dumpEvents(dump).filter((e) => e.kind === 'post').map((e) => e.id));
  const readers: AckCheck['readers'] = {};
  for (const m of machines) {
    const shown = countIds(await polledPosts(cluster, m, posters.rooms));
    readers[m] = { ...judge(shown, posters.acked), shown: shown.size };
  }
  return { ...judge(stored, posters.acked), readers };
}

function countIds(ids: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

function judge(counts: Map<string, number>, acked: Set<string>): { missing: string[]; twice: string[] } {
  return { missing: [...acked].filter((id) => !counts.has(id)), twice: [...counts].filter(([, n]) => n > 1).map(([id]) => id) };
}

/** Every post a reader on `machine` who follows `rooms` is shown by Poll, from an empty cursor to the end. */
async function polledPosts(cluster: TestCluster, machine: string, rooms: string[]): Promise<string[]> {
  const client = cluster.client(machine);
  const reader = `reader_${machine}`;
  await call(client, 'Connect', { user: reader });
  for (const room of rooms) {
    await call(client, 'Join', { user: reader, room }).catch((err: { code?: number }) => {
      if (err.code !== grpc.status.ALREADY_EXISTS) throw err; // followed at an earlier check
    });
  }
  const ids: string[] = [];
  let cursor: Record<string, number> = {};
  for (;;) {
    const page = await call(client, 'Poll', { user: reader, cursor: { seqs: cursor }, max: 1000 });
    ids.push(...(page.events as { id: string; kind: string }[]).filter((e) => e.kind === 'post').map((e) => e.id));
    const next = page.cursor.seqs as Record<string, number>;
    if (page.events.length === 0 && JSON.stringify(next) === JSON.stringify(cursor)) return ids;
    cursor = next;
  }
}

/**
 * Asserts, with the posters paused, that every acknowledged post is stored exactly
 * once, the same on every machine, and shown once to a reader on each; then resumes them.
 */
export async function everyAckStored(t: Test, { power, posters }: PowerRig, what: string): Promise<void> {
  await posters.stop();
  const r = await checkAcked(power.cluster, POWER_MACHINES, posters);
  t.same(r.missing, [], `every acknowledged post is stored after ${what} (${posters.acked.size} checked), the same on every machine`);
  t.same(r.twice, [], 'none twice');
  for (const [m, seen] of Object.entries(r.readers)) {
    t.same({ missing: seen.missing, twice: seen.twice }, { missing: [], twice: [] }, `a reader on ${m} is shown each exactly once (${seen.shown} posts, through the origin index)`);
  }
  posters.resume();
}

export interface PowerRig {
  power: PowerCluster;
  posters: Posters;
}

/**
 * A power-loss test file's cluster, shared by its tests: three machines on lazyfs
 * disks and two posters through each (with startMachines false, started by the tests,
 * which add the posters), posts prefixed `prefix`; torn down after the file, however it
 * ends. Null (with the reason) where a lazyfs mount cannot run.
 */
export function powerRig(t: Test, prefix: string, opts: ClusterOptions = {}): PowerRig {
  const rig = {} as PowerRig;
  t.before(async () => {
    rig.power = await startPowerCluster({ workers: 2, guardians: 1, ...opts, machines: POWER_MACHINES });
    rig.posters = new Posters(rig.power.cluster, prefix);
    if (opts.startMachines !== false) await addPosters(rig.posters);
  });
  t.teardown(async () => {
    await rig.posters?.stop().catch(() => undefined);
    await rig.power?.teardown();
  });
  return rig;
}

/** Two users posting through each machine. */
export async function addPosters(posters: Posters): Promise<void> {
  for (const m of POWER_MACHINES) for (const n of ['a', 'b']) await posters.add(`${posters.prefix}_${m}${n}`, m);
}

/** The machines of a power-loss test's cluster. */
export const POWER_MACHINES = ['m1', 'm2', 'm3'];

/** A cut's report, in one line for the test's output. */
export function describeCut(machine: string, c: CutReport): string {
  return `${machine} cut ${c.at ?? 'on command'}: ${c.droppedBytes} bytes in ${c.droppedFiles} files dropped, ${c.namesUndone} names undone${c.torn ? `, torn ${JSON.stringify(c.torn)}` : ''}`;
}
