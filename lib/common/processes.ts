/**
 * A cluster's server processes found by their command line (every one names the
 * cluster's config file and its machine), and their roles read from /proc, so
 * `fbs stop`, a test or the chaos nemesis can signal them by pid without killing
 * by name.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { DEFAULT_CONFIG_FILE } from './config';
import { readCommandLine, type CommandLine } from './fbs-command-line';
import { procStat } from './proc-stat';
import { waitUntil } from './wait-until';

/** A standby is an `fbs start` waiting for the running primary to die (as systemd's restart of the unit does), or a worker it forked ahead. */
export type ServerRole = 'primary' | 'standby' | 'worker' | 'replicator' | 'guardian';

export interface ServerProcess {
  pid: number;
  machine: string;
  role: ServerRole;
  /** A worker's or a guardian's slot. */
  slot?: number;
}

function argvOf(pid: number | string): string[] | null {
  const stat = procStat(pid);
  if (stat === null || stat[0] === 'Z') return null;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return null;
  }
}

/**
 * Live pids of the cluster's processes (optionally of one machine), found by their
 * command line: it names the cluster's own config file, so another cluster's m1 on
 * this host is never among them. Without a machine this includes wrappers such as
 * faketime that carry the config file too. Other fbs commands (stop, dump, status)
 * are not server processes.
 */
export function serverPids(configFile: string, machine?: string): number[] {
  return [...serverArgvs(configFile, machine).keys()];
}

/** The command lines of those processes, by pid. */
function serverArgvs(configFile: string, machine?: string): Map<number, string[]> {
  const found = new Map<number, string[]>();
  const wanted = resolve(configFile);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const argv = argvOf(entry);
    const line = argv && readCommandLine(argv);
    if (!argv || !line || configOf(entry, line) !== wanted) continue;
    if (line.verb !== null && !['start', 'guardian'].includes(line.verb)) continue;
    if (machine === undefined || line.machine === machine) found.set(Number(entry), argv);
  }
  return found;
}

/**
 * The config file a process runs with: its --config resolved against its working
 * directory (an operator may pass a relative path), or for an fbs without one the default.
 */
function configOf(pid: string, line: CommandLine): string | null {
  const file = line.config;
  if (file === undefined) return line.verb !== null ? DEFAULT_CONFIG_FILE : null;
  if (isAbsolute(file)) return resolve(file);
  try {
    return resolve(readlinkSync(`/proc/${pid}/cwd`), file);
  } catch {
    return null;
  }
}

/**
 * The machine's server processes with their roles (wrappers without --machine left
 * out). Of the `fbs start` processes, the one with `primaryPid` (the machine's
 * primary record) is the primary, the others stand by.
 */
export function serverProcesses(configFile: string, machine: string, primaryPid: number): ServerProcess[] {
  return [...serverArgvs(configFile, machine)].flatMap(([pid, argv]) => {
    const role = roleOf(pid, argv);
    if (!role) return [];
    const slot = role === 'guardian' ? readCommandLine(argv).slot : role === 'worker' ? environOf(pid)?.find((e) => e.startsWith('FBS_SLOT='))?.slice(9) : undefined;
    // A worker a standby forked ahead (warm-children.ts) is the standby's until its parent is the primary.
    const spare = role === 'primary' ? pid !== primaryPid : role === 'worker' && !!environOf(pid)?.includes('FBS_WARM=1') && procStat(pid)?.[1] !== String(primaryPid);
    return [{ pid, machine, role: spare ? 'standby' : role, ...(slot !== undefined ? { slot: Number(slot) } : {}) }];
  });
}

/** The machine's standing-by `fbs start` processes: primaries that are not `primaryPid`. */
export function standbyPids(configFile: string, machine: string, primaryPid: number): number[] {
  return [...serverArgvs(configFile, machine)].filter(([pid, argv]) => pid !== primaryPid && readCommandLine(argv).verb === 'start' && roleOf(pid, argv) === 'primary').map(([pid]) => pid);
}

/** `worker 0 pid 123`: what a server process is, for an operator. */
export function describeServerProcess(p: ServerProcess): string {
  const what = p.role === 'standby' ? `standby${p.slot === undefined ? ' (an fbs start waiting for the primary to die)' : ' worker (forked ahead, waiting for its primary to take over)'}` : p.role;
  return `${what}${p.slot === undefined ? '' : ` ${p.slot}`} pid ${p.pid}`;
}

/** The environment a process started with (NAME=value entries); null once it is gone. */
export function environOf(pid: number | string): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return null;
  }
}

/** guardian from argv; node:cluster children carry FBS_ROLE in their environment; the rest run `fbs start`. */
function roleOf(pid: number, argv: string[]): ServerRole | null {
  if (readCommandLine(argv).verb === 'guardian') return 'guardian';
  const env = environOf(pid);
  if (env === null) return null;
  if (env.includes('FBS_ROLE=worker')) return 'worker';
  if (env.includes('FBS_ROLE=replicator')) return 'replicator';
  return 'primary';
}

/** Sends `signal` to each pid; one that is already gone is not an error. */
export function signalPids(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    if (!(pid > 1)) continue; // 0 and -1 would signal a process group or every process
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** A set of processes is signalled to stop within this; killing them goes on after it in any case. */
const FREEZE_MS = 5_000;

/**
 * SIGKILLs the processes `find` returns until it returns none. They are all sent
 * SIGSTOP first, until `find` returns none that was not: a guardian killed after its
 * primary could otherwise revive that primary in between, and a tree that revives
 * itself outran one-by-one kills on a loaded host. A process with a SIGSTOP pending
 * runs no instruction of its own again, and a fork under way when it arrives hands
 * it to the child too (Linux), so nothing signalled spawns anything afterwards.
 * Throws, naming the survivors, if any outlives `withinMs`.
 */
export async function killUntilGone(find: () => number[], what: string, withinMs: number): Promise<void> {
  const stopped = new Set<number>();
  const stopNew = (): boolean => {
    const fresh = find().filter((pid) => !stopped.has(pid));
    signalPids(fresh, 'SIGSTOP');
    for (const pid of fresh) stopped.add(pid);
    return fresh.length === 0;
  };
  await waitUntil(stopNew, Math.min(FREEZE_MS, withinMs), 5).catch(() => undefined);
  const sweep = (): number[] => {
    const live = find();
    signalPids(live, 'SIGKILL');
    return live;
  };
  await waitUntil(() => sweep().length === 0, withinMs, 50).catch(() => {
    throw new Error(`could not kill every process of ${what}: ${find().join(', ')} still alive after ${withinMs} ms`);
  });
}
