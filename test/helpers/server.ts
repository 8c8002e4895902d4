/**
 * Starts real ftchat machines for integration tests: a temp data dir, free
 * loopback ports, the real `bin/fbs` in its own process group, its JSON log lines
 * collected. Everything started is killed by pid (the group) and removed at teardown.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { REPO_ROOT } from '../../lib/common/paths';
import { writeClusterConfig } from '../../lib/chaos/cluster-config';
import { loadConfig } from '../../lib/common/config';
import { killUntilGone, serverPids } from '../../lib/common/processes';
import type { ChatClient } from '../../lib/gen/ftchat/Chat';
import type { ClusterStatus, ProcessView } from '../../lib/admin/status';
import { authedChatClient, Keyring } from '../../lib/client/identity';
import { loadIdentity } from '../../lib/client/key-file';
import { waitFor } from './wait';
import { ownChildren } from './reaper';
import { credentialsFor, trustCluster } from './trust';
import { eachLine } from '../../lib/common/lines';
import { serverCommandLine } from '../../lib/common/fbs-command-line';

// Whatever a test starts dies with the test process, even if tap kills it (see reaper.ts).
ownChildren();

/**
 * How long a machine's tree may take to serve: every process of it loads node,
 * gRPC and its data, several machines start at once, and on a busy 2-core host
 * (another tap job, a bench) that took over 15 s. waitFor cuts it to tap's timeout.
 */
const START_MS = 90_000;

// Found from source (tap) and from dist/ (the bench imports this helper compiled).
export const REPO = REPO_ROOT;
export const FBS = join(REPO, 'bin', 'fbs');
export const FBC = join(REPO, 'fbc');

export interface LogLine {
  level: string;
  machine: string;
  role: string;
  pid: number;
  msg: string;
  [k: string]: unknown;
}

// Shared with the chaos run (lib/chaos), which starts clusters outside tests.
export { freePort, freePortRun } from '../../lib/chaos/ports';
export { serverPids } from '../../lib/common/processes';

export interface TestCluster {
  dir: string;
  configFile: string;
  ports: Record<string, number>;
  /** Starts (or restarts) a machine's tree; resolves when its workers and its replicator serve. */
  start(machine: string, extraEnv?: Record<string, string>, launch?: Launch): Promise<ChildProcess>;
  /** SIGTERM a machine's primary and wait for it. */
  stop(machine: string): Promise<void>;
  /** SIGKILL every process of a machine at once (primary, workers, guardians), like a power cut. */
  killMachine(machine: string): Promise<void>;
  /** Live pids of the cluster's processes (of one machine). */
  pids(machine?: string): number[];
  /** Every log line seen so far, across all machines and restarts. */
  logs: LogLine[];
  waitForLog(what: string, pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Pids of the currently serving workers of a machine (from their "worker serving" lines). */
  workerPids(machine: string): number[];
  client(machine?: string): ChatClient;
  address(machine?: string): string;
  /** The machine's replicator address (its peer port). */
  peerAddress(machine: string): string;
  /** `fbs dump --machine <machine>`: its data as canonical text. */
  dump(machine: string): Promise<string>;
  /** `fbs status --json`: every process of every machine, as an operator sees it. */
  status(): Promise<ClusterStatus>;
  /** A machine's process of `role` (and `slot`) that `fbs status` shows up and `pred` accepts, once there is one. */
  upProcess(machine: string, role: string, slot?: number, pred?: (p: ProcessView) => boolean, timeoutMs?: number): Promise<ProcessView>;
  teardown(): Promise<void>;
}

/** How a machine's tree is launched: a command in front of node (e.g. faketime) and extra environment. */
export interface Launch {
  prefix?: string[];
  env?: Record<string, string>;
  /** Another config file for this machine (e.g. the same machines with other TLS files); teardown finds its processes too. */
  config?: string;
}

export interface ClusterOptions {
  machines?: string[];
  workers?: number;
  limits?: Record<string, number>;
  /** Overrides of config.quotas (tests that create many users or post fast raise them). */
  quotas?: Record<string, number>;
  guardians?: number;
  /** Per machine: how to launch it, on the first start and on every restart. */
  launch?: Record<string, Launch>;
  /** Per machine: its address (default 127.0.0.1), e.g. inside a network-namespace lab. */
  hosts?: Record<string, string>;
  /** Overrides of config.timing (heartbeat and failure timeouts). */
  timing?: Record<string, number>;
  /** Overrides of config.storage (e.g. lockStaleMs). */
  storage?: Record<string, number>;
  /** How long start() waits for a machine's workers and replicator to serve (default START_MS). */
  startTimeoutMs?: number;
  /** false: plaintext on every port (loopback only), e.g. a benchmark's baseline; default TLS, set up by `fbs init`. */
  tls?: boolean;
  /** config.metrics (where and how each machine serves /metrics). */
  metrics?: { host?: string; tls?: boolean };
  /** false: write the config but start nothing, so a caller can fill the data dir first. */
  startMachines?: boolean;
}

/**
 * Quotas for tests and benchmarks that create hundreds of users or post as fast as
 * they can from one address: the defaults (100 new users a minute per address, 20
 * posts a second per user, 500 requests a second per connection) would hold them back.
 */
export const RAISED_QUOTAS = { newUsersPerAddressPerMinute: 1_000_000, postsPerUserPerSecond: 1_000_000, requestsPerAddressPerSecond: 1_000_000 };

export async function startCluster(opts: ClusterOptions = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ftchat-test-'));
  const machines = opts.machines ?? ['m1'];
  const configFile = await writeClusterConfig(dir, {
    machines,
    host: (m) => opts.hosts?.[m] ?? '127.0.0.1',
    guardians: opts.guardians ?? 2,
    workers: opts.workers ?? 2,
    secret: 'test-secret',
    extra: { limits: opts.limits ?? {}, quotas: opts.quotas ?? {}, ...(opts.timing ? { timing: opts.timing } : {}), ...(opts.storage ? { storage: opts.storage } : {}), ...(opts.tls === false ? { tls: false } : {}), ...(opts.metrics ? { metrics: opts.metrics } : {}) },
  });
  const config = loadConfig(configFile);
  trustCluster(config);
  const placed = config.machines;
  const ports = Object.fromEntries(machines.map((m) => [m, placed[m].port]));
  const logs: LogLine[] = [];
  const children = new Map<string, ChildProcess>();
  const clients: grpc.Client[] = [];
  const alive = new Map<string, Map<number, number>>(); // machine -> slot -> pid
  const fbs = (args: string[]): Promise<string> =>
    new Promise((res, rej) =>
      execFile(process.execPath, [FBS, ...args, '--config', configFile], { maxBuffer: 256 << 20 }, (err, out) => (err ? rej(err) : res(out))),
    );

  const cluster: TestCluster = {
    dir,
    configFile,
    ports,
    logs,
    async start(machine, extraEnv = {}, launch = opts.launch?.[machine] ?? {}) {
      const { cmd, args } = serverCommandLine([...(launch.prefix ?? []), process.execPath, FBS], { verb: 'start', machine, config: launch.config ?? configFile });
      const child = spawn(cmd, args, {
        detached: true, // own process group: teardown kills the whole tree by its pgid
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...launch.env, ...extraEnv },
      });
      children.set(machine, child);
      const onLine = (line: string): void => {
        try {
          const l = JSON.parse(line) as LogLine;
          logs.push(l);
          if (l.msg === 'worker serving') {
            if (!alive.has(l.machine)) alive.set(l.machine, new Map());
            alive.get(l.machine)!.set(Number(l.slot), l.pid);
          }
        } catch {
          logs.push({ level: 'raw', machine, role: '?', pid: 0, msg: line });
        }
      };
      eachLine(child.stdout!, onLine);
      eachLine(child.stderr!, onLine);
      const since = logs.length;
      const workers = opts.workers ?? 2;
      const fresh = (): LogLine[] => logs.slice(since).filter((l) => l.machine === machine);
      const lastLines = (n: number): string => fresh().slice(-n).map((l) => `  ${l.role} ${l.pid} ${String(l.msg).slice(0, 300)}`).join('\n');
      const outcome = await waitFor(`${machine} to serve: ${workers} workers and its replicator`, () => {
        if (child.exitCode !== null || child.signalCode !== null) return 'exited';
        const slots = new Set(fresh().filter((l) => l.msg === 'worker serving').map((l) => l.slot));
        const replicator = fresh().some((l) => l.msg === 'replicator serving');
        if (slots.size >= workers && replicator) return 'serving';
        throw new Error(`not yet: ${slots.size} of ${workers} workers serving, replicator ${replicator ? '' : 'not '}serving`); // what a timeout reports
      }, opts.startTimeoutMs ?? START_MS).catch((err: Error) => {
        // A start that never serves: its last lines say which step it is stuck at (or a line that did not parse).
        throw new Error(`${err.message}; ${machine}'s last lines:\n${lastLines(20)}`);
      });
      if (outcome === 'exited') {
        throw new Error(`${machine}'s fbs start (pid ${child.pid}) exited (${child.exitCode ?? child.signalCode}) before serving; its last lines:\n${lastLines(10)}`);
      }
      return child;
    },
    async stop(machine) {
      const child = children.get(machine);
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
    killMachine(machine) {
      return killUntilGone(() => serverPids(configFile, machine), machine, 10_000);
    },
    pids(machine) {
      return serverPids(configFile, machine);
    },
    waitForLog(what, pred, timeoutMs) {
      return waitFor(what, () => logs.find(pred), timeoutMs);
    },
    workerPids(machine) {
      return [...(alive.get(machine)?.values() ?? [])];
    },
    client(machine = machines[0]) {
      const c = authedChatClient(cluster.address(machine), testKeys, {}, credentialsFor(cluster.address(machine)));
      clients.push(c);
      return c;
    },
    address(machine = machines[0]) {
      return `${placed[machine].host}:${placed[machine].port}`;
    },
    peerAddress(machine) {
      return `127.0.0.1:${placed[machine].peerPort}`;
    },
    dump(machine) {
      return fbs(['dump', '--machine', machine]);
    },
    async status() {
      return JSON.parse(await fbs(['status', '--json'])) as ClusterStatus;
    },
    upProcess(machine, role, slot, pred = () => true, timeoutMs) {
      const what = `${machine}'s ${role}${slot === undefined ? '' : ` ${slot}`} up in fbs status`;
      return waitFor(what, async () => (await cluster.status()).processes.find((p) =>
        p.machine === machine && p.role === role && (slot === undefined || p.slot === slot) && p.state === 'up' && pred(p)), timeoutMs);
    },
    async teardown() {
      for (const c of clients) c.close();
      // Guardians and revived primaries run in process groups of their own: find every one.
      const configs = [configFile, ...Object.values(opts.launch ?? {}).flatMap((l) => (l.config ? [l.config] : []))];
      await killUntilGone(() => configs.flatMap((c) => serverPids(c)), 'the cluster', 10_000).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (opts.startMachines !== false) for (const m of machines) await cluster.start(m);
  return cluster;
}

let ownHome: string | null = null;

/** A new person's config dir (for their key files), removed when the test process exits. */
export function newConfigHome(): string {
  // Inside the test process's own temp dir (ownChildren), which its watchdog removes if it is killed.
  const dir = mkdtempSync(join(tmpdir(), 'ftchat-config-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The config dir (XDG_CONFIG_HOME) of the test process's person: its fbc runs and its clients share its key files. */
export function fbcConfigHome(): string {
  return (ownHome ??= newConfigHome());
}

/**
 * The keys of the users a test process's clients act for, in its person's key files,
 * so a user made through a client is the same person's in `fbc` (a test wanting a
 * second person for a name makes its own Keyring, or its own config dir).
 */
export const testKeys = new Keyring((user) => loadIdentity(user, undefined, { XDG_CONFIG_HOME: fbcConfigHome() }));

/** A Chat client on a TCP connection of its own (grpc-js shares one per target otherwise), closed at the test's end. */
export function ownConnection(t: { teardown(fn: () => unknown): void }, address: string, keys = testKeys): ChatClient {
  const c = authedChatClient(address, keys, { 'grpc.use_local_subchannel_pool': 1 }, credentialsFor(address));
  t.teardown(() => c.close());
  return c;
}

/**
 * Stops a machine's replicator (SIGSTOP): the machine hears nothing from its peers and
 * its acceptor answers nothing. Returns the resume (SIGCONT; a no-op if it was re-forked meanwhile).
 */
export function pauseReplicator(cluster: TestCluster, machine: string): () => void {
  const pid = cluster.logs.filter((l) => l.machine === machine && l.msg === 'replicator serving').pop()?.pid;
  if (!pid) throw new Error(`${machine} has no replicator serving`);
  process.kill(pid, 'SIGSTOP');
  return () => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      /* re-forked meanwhile */
    }
  };
}

/** How a call ended: 'OK' or "<status name>: <details>". */
export async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    const e = err as grpc.ServiceError;
    return `${grpc.status[e.code]}: ${e.details}`;
  }
}

/** Promisified unary call: `await call(client, 'Post', {...})`, within `timeoutMs`. */
export function call<K extends keyof ChatClient & string>(
  client: ChatClient,
  method: K,
  req: Parameters<ChatClient[K]>[0],
  timeoutMs = 10_000,
): Promise<any> {
  return new Promise((res, rej) => {
    (client[method] as any)(req, { deadline: Date.now() + timeoutMs }, (err: unknown, v: unknown) => (err ? rej(err) : res(v)));
  });
}

/** Waits until the machines' `fbs dump`s are byte-identical and not empty; returns that dump. On a timeout, says how the last ones differed. */
export async function converged(cluster: TestCluster, machines: string[], timeoutMs = 30_000): Promise<string> {
  let last: string[] = [];
  try {
    return await waitFor(
      `identical dumps of ${machines.join(', ')}`,
      async () => {
        last = await Promise.all(machines.map((m) => cluster.dump(m)));
        return last.every((d) => d === last[0]) && last[0];
      },
      timeoutMs,
      200,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}${dumpDifference(machines, last)}`);
  }
}

/** The lines of each dump that another lacks: how many, and the first three. */
function dumpDifference(machines: string[], dumps: string[]): string {
  const sets = dumps.map((d) => new Set(d.split('\n').filter(Boolean)));
  const all = new Set(sets.flatMap((s) => [...s]));
  const parts = machines.map((m, i) => {
    const lacks = [...all].filter((l) => !sets[i].has(l));
    return lacks.length ? `; ${m} lacks ${lacks.length} lines, first: ${lacks.slice(0, 3).join(' | ')}` : '';
  });
  return parts.join('');
}

/** The events of a `fbs dump` text, in its order. */
export function dumpEvents(dump: string): { id: string; origin: string; kind: string; author: string; text: string; [k: string]: unknown }[] {
  return dump.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
