/**
 * The workload's side in the chaos run's own process: one client agent per
 * machine (writer wN and reader rN, both preferring machine N: the server list
 * rotated to start there), run beside that machine — inside its network namespace
 * when there is one, so a machine cut off keeps serving its own clients. Agent
 * records flow into the HistoryRecorder; the run steps the agents through
 * ready -> follow -> go -> stop-writing -> exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { clientAddresses } from '../common/config';
import { REPO_ROOT } from '../common/paths';
import { waitUntil } from '../common/wait-until';
import type { ClusterLab } from './cluster-lab';
import { parseAgentRecord, type HistoryRecorder } from './history';
import { signalPids } from '../common/processes';
import { eachLine } from '../common/lines';

/** The compiled chaos command; agents run its hidden `agent` subcommand. */
const CHAOS_SCRIPT = join(REPO_ROOT, 'dist', 'bin', 'chaos.js');

export interface WorkloadOptions {
  lab: ClusterLab;
  recorder: HistoryRecorder;
  postIntervalMs: number;
  log: (line: string) => void;
}

export interface Workload {
  writers: string[];
  readers: string[];
  /** The agents' pids (for cleanup checks). */
  pids: number[];
  /** Every writer and reader connected (their rooms exist). */
  ready(timeoutMs: number): Promise<void>;
  /** Every reader has joined every writer's room and opened its feed. */
  follow(timeoutMs: number): Promise<void>;
  go(): void;
  /** Every writer finished its post in flight. */
  stopWriting(timeoutMs: number): Promise<void>;
  /** Resolves true once every reader was shown every one of `keys` (false at the deadline). */
  shownToAll(keys: string[], timeoutMs: number): Promise<boolean>;
  /** Ends every agent (SIGKILL for one that does not exit in time). */
  stop(): Promise<void>;
}

/** What the agents have reported so far: clients connected, readers following, writers done. */
interface Progress {
  ready: Set<string>;
  following: Set<string>;
  done: Set<string>;
}

export function startWorkload(opts: WorkloadOptions): Workload {
  const machines = Object.keys(opts.lab.config.machines);
  const addresses = clientAddresses(opts.lab.config);
  const writers = machines.map((_, i) => `w${i + 1}`);
  const readers = machines.map((_, i) => `r${i + 1}`);
  const progress: Progress = { ready: new Set(), following: new Set(), done: new Set() };
  const agents = machines.map((m, i) =>
    spawnAgent(opts, m, ['--writer', writers[i], '--reader', readers[i], '--follow', writers.join(','), '--servers', [...addresses.slice(i), ...addresses.slice(0, i)].join(',')], progress),
  );
  const cue = (word: string): void => {
    for (const a of agents) if (!exited(a)) a.stdin!.write(`${word}\n`);
  };
  const until = (what: string, cond: () => boolean, timeoutMs: number): Promise<void> => untilAgents(agents, what, cond, timeoutMs);

  return {
    writers,
    readers,
    pids: agents.map((a) => a.pid as number),
    ready: (timeoutMs) => until('every client to connect', () => [...writers, ...readers].every((c) => progress.ready.has(c)), timeoutMs),
    async follow(timeoutMs) {
      cue('follow');
      await until('every reader to follow every writer', () => readers.every((r) => progress.following.has(r)), timeoutMs);
    },
    go: () => cue('go'),
    async stopWriting(timeoutMs) {
      cue('stop-writing');
      await until('every writer to finish its last post', () => writers.every((w) => progress.done.has(w)), timeoutMs);
    },
    async shownToAll(keys, timeoutMs) {
      const all = (): boolean => readers.every((r) => {
        const shown = opts.recorder.shownKeys.get(r);
        return shown !== undefined && keys.every((k) => shown.has(k));
      });
      return waitUntil(all, timeoutMs, 100).then(() => true, () => false);
    },
    async stop() {
      cue('exit');
      const live = (): ChildProcess[] => agents.filter((a) => !exited(a));
      await waitUntil(() => live().length === 0, 10_000, 50).catch(() => undefined);
      signalPids(live().map((a) => a.pid as number), 'SIGKILL');
      await waitUntil(() => live().length === 0, 5_000, 50).catch(() => undefined);
    },
  };
}

/** The agent beside machine `m` (`role`: its writer, reader and server flags); its records go to the recorder and `progress`. */
function spawnAgent(opts: WorkloadOptions, m: string, role: string[], progress: Progress): ChildProcess {
  const argv = [
    ...opts.lab.clientPrefix(m),
    process.execPath, CHAOS_SCRIPT, 'agent',
    ...role, '--config', opts.lab.config.file, '--post-interval', String(opts.postIntervalMs),
  ];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin!.on('error', () => undefined); // an agent that died is seen through its records
  eachLine(child.stdout!, (line) => {
    const r = parseAgentRecord(line);
    if (!r) return opts.log(`agent ${m}: ${line}`);
    if (r.k === 'ready') progress.ready.add(r.client);
    else if (r.k === 'following') progress.following.add(r.reader);
    else if (r.k === 'done') progress.done.add(r.writer);
    opts.recorder.take(r);
  });
  eachLine(child.stderr!, (line) => opts.log(`agent ${m}: ${line}`));
  return child;
}

function exited(a: ChildProcess): boolean {
  return a.exitCode !== null || a.signalCode !== null;
}

/** Waits for `cond`; an agent that exits before it holds fails the wait at once. */
async function untilAgents(agents: ChildProcess[], what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  await waitUntil(() => cond() || agents.some(exited), timeoutMs, 50).catch(() => {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  });
  const dead = agents.find(exited);
  if (!cond() && dead) throw new Error(`a client agent (pid ${dead.pid}) exited (${dead.exitCode ?? dead.signalCode}) while waiting for ${what}`);
}
