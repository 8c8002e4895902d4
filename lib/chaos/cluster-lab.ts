/**
 * The cluster a chaos run breaks: three machines in a temp dir on free ports,
 * each started by its own startup script (startup/mN.sh --config <temp config>)
 * under a systemd-like unit. As root with iproute2 each machine lives in its own
 * network namespace (its host is its lab address), so its link can go down;
 * otherwise everything runs on loopback. A machine can be switched off, started
 * again and restarted under a skewed clock (faketime). With power disks, each
 * machine's data dir is a power-loss disk (lazy-mount.ts) whose power can be cut.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { clusterDump } from '../admin/dump';
import { clusterStatus } from '../admin/status';
import { loadConfig, type ClusterConfig } from '../common/config';
import { REPO_ROOT } from '../common/paths';
import { isAlive } from '../common/proc-stat';
import { readRecord } from '../supervision/primary-record';
import type { ClockOffset, NemesisTarget } from './nemesis';
import { createNetLab, type NetLab } from './net-lab';
import { writeClusterConfig } from './cluster-config';
import { killUntilGone, serverPids, serverProcesses } from '../common/processes';
import { ServiceUnit } from './service-unit';
import { machineDirOf, machinePath } from '../storage/data-dir';
import { LazyMount } from './lazy-mount';

/** As startup/systemd/ftchat@.service. */
const RESTART_SEC_MS = 1_000;

export interface LabOptions {
  machines: string[];
  namespaces: boolean;
  /** Each machine's log (its processes' JSON lines) goes to <logDir>/<machine>.log. */
  logDir: string;
  workers?: number;
  guardians?: number;
  /** A generated history (bench/history-gen: <dir>/<machine>/ data dirs) each machine starts on a copy of. */
  history?: string;
  /** Each machine's data dir on a power-loss disk (root, /dev/fuse and python3-fusepy: see lazyFsUnavailable). */
  powerDisks?: boolean;
}

export interface ClusterLab extends NemesisTarget {
  readonly config: ClusterConfig;
  /** Network namespaces made for the run (empty on loopback). */
  readonly namespaces: string[];
  /** argv prefix that runs a client beside the machine (in its namespace). */
  clientPrefix(machine: string): string[];
  clocks(): Record<string, ClockOffset>;
  /** Switches every machine on. */
  start(): void;
  /** Resolves when every process of every machine reports up in `fbs status`. */
  waitHealthy(timeoutMs: number): Promise<void>;
  /** `fbs dump` of every machine. */
  dumps(): Promise<Record<string, string>>;
  /** Kills everything the lab started and removes its namespaces and temp dir. */
  teardown(): Promise<void>;
}

/**
 * libfaketime itself, preloaded, not the `faketime` wrapper: the wrapper makes a
 * semaphore in /dev/shm named after its pid, which a SIGKILLed tree leaves behind,
 * and a later wrapper given the same pid refuses to start ("sem_open: File
 * exists"). The library takes such a leftover in its stride.
 */
function libfaketime(): string | null {
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib', '/usr/local/lib'];
  return dirs.map((d) => join(d, 'faketime', 'libfaketime.so.1')).find((f) => existsSync(f)) ?? null;
}

/** True when a preloaded libfaketime really shifts a child's clock. */
export function faketimeAvailable(): boolean {
  const lib = libfaketime();
  if (!lib) return false;
  const out = spawnSync('date', ['+%s'], { env: { ...process.env, LD_PRELOAD: lib, FAKETIME: '-1d' }, encoding: 'utf8' });
  return out.status === 0 && Math.abs(Date.now() / 1000 - 86_400 - Number(out.stdout)) < 600;
}

/** How to launch a process tree with its wall clock shifted by `offset` (e.g. '-3h'); its timers stay real. */
export function faketimeLaunch(offset: string): { prefix: string[]; env: Record<string, string> } {
  const lib = libfaketime();
  if (!lib) throw new Error('libfaketime is not installed (Debian package faketime)');
  return { prefix: [], env: { LD_PRELOAD: lib, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' } };
}

export async function createClusterLab(opts: LabOptions): Promise<ClusterLab> {
  const { machines } = opts;
  const dir = mkdtempSync(join(tmpdir(), 'ftchat-chaos-'));
  const net: NetLab | null = opts.namespaces ? createNetLab(machines) : null;
  const config = await labConfig(dir, opts, net);
  const configFile = config.file;
  const disks = opts.powerDisks ? await mountDisks(dir, config.dataDir, machines) : null;
  if (opts.history) copyHistory(opts.history, config.dataDir, machines);
  const clock = new Map<string, ClockOffset>(machines.map((m) => [m, '0']));
  const logFds = new Map(machines.map((m) => [m, openSync(join(opts.logDir, `${m}.log`), 'a')]));
  const units = new Map(machines.map((m) => [m, machineUnit(m, configFile, net, () => clock.get(m) as ClockOffset, logFds.get(m) as number, disks?.get(m)?.env() ?? {})]));
  const unit = (m: string): ServiceUnit => units.get(m) as ServiceUnit;

  const powerOff = async (m: string): Promise<void> => {
    const u = unit(m);
    u.disable();
    await killUntilGone(() => [...serverPids(config.file, m), ...(u.pid ? [u.pid] : [])].filter(isAlive), m, 15_000);
  };

  return {
    config,
    namespaces: net?.namespaces ?? [],
    clientPrefix: (m) => (net ? net.prefix(m) : []),
    clocks: () => Object.fromEntries(clock),
    processes: (m) => serverProcesses(config.file, m, readRecord(machineDirOf(config.dataDir, m))?.pid ?? 0),
    start: () => {
      for (const u of units.values()) u.enable();
    },
    powerOff,
    powerOn: (m) => unit(m).enable(),
    powerCut: (m) => cutPower(disks?.get(m), () => powerOff(m)),
    async restartWithClock(m, offset) {
      await powerOff(m);
      clock.set(m, offset);
      unit(m).enable();
    },
    linkDown: (m) => net?.linkDown(m),
    linkUp: (m) => net?.linkUp(m),
    waitHealthy: (timeoutMs) => waitHealthy(config, timeoutMs),
    async dumps() {
      // In-process, as `fbs dump` computes it: no node start per machine every poll while faults run.
      const out = await Promise.all(machines.map((m) => clusterDump(config, m)));
      return Object.fromEntries(machines.map((m, i) => [m, out[i]]));
    },
    async teardown() {
      for (const u of units.values()) u.disable();
      try {
        await killUntilGone(() => [...serverPids(config.file), ...[...units.values()].flatMap((u) => (u.pid ? [u.pid] : []))].filter(isAlive), 'the cluster', 15_000);
      } finally {
        for (const disk of disks?.values() ?? []) await disk.unmount().catch(() => undefined);
        net?.teardown();
        for (const fd of logFds.values()) closeSync(fd);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The lab's cluster.json, written into its temp dir, and read back. */
async function labConfig(dir: string, opts: LabOptions, net: NetLab | null): Promise<ClusterConfig> {
  const file = await writeClusterConfig(dir, {
    machines: opts.machines,
    host: (m) => (net ? net.ip(m) : '127.0.0.1'),
    guardians: opts.guardians ?? 2,
    workers: opts.workers ?? 2,
    secret: randomBytes(16).toString('hex'),
  });
  return loadConfig(file);
}

/** The disk drops what was not synced, the machine's processes die, the disk comes back as after a reboot. */
async function cutPower(disk: LazyMount | undefined, powerOff: () => Promise<void>): Promise<string> {
  if (!disk) throw new Error('no power-loss disks in this lab');
  const cut = await disk.cut({ tear: true });
  await powerOff();
  await disk.boot();
  return `power cut: ${cut.droppedBytes} unsynced bytes in ${cut.droppedFiles} files and ${cut.namesUndone} names dropped${cut.torn ? `, ${cut.torn.path} torn` : ''}`;
}

/** Each machine's data dir as a power-loss disk, backed by <dir>/disks/<machine>. */
async function mountDisks(dir: string, dataDir: string, machines: string[]): Promise<Map<string, LazyMount>> {
  const disks = new Map(machines.map((m) => [m, new LazyMount(join(dir, 'disks', m), machineDirOf(dataDir, m))]));
  try {
    for (const disk of disks.values()) await disk.mount();
  } catch (err) {
    for (const disk of disks.values()) await disk.unmount();
    throw err;
  }
  return disks;
}

/** The unit that runs a machine's startup script: in its namespace, under its clock offset as it is at each start. */
function machineUnit(m: string, configFile: string, net: NetLab | null, skew: () => ClockOffset, logFd: number, diskEnv: Record<string, string>): ServiceUnit {
  const faked = (): { prefix: string[]; env: Record<string, string> } => (skew() === '0' ? { prefix: [], env: {} } : faketimeLaunch(skew()));
  return new ServiceUnit({
    command: () => [...(net ? net.prefix(m) : []), ...faked().prefix, join(REPO_ROOT, 'startup', `${m}.sh`), '--config', configFile],
    env: () => ({ ...process.env, ...diskEnv, ...faked().env }),
    logFd,
    restartSec: RESTART_SEC_MS,
  });
}

/** Resolves when every process of every machine reports up in `fbs status`. */
async function waitHealthy(config: ClusterConfig, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing = unhealthy(config, await clusterStatus(config));
    if (missing === '') return;
    if (Date.now() > deadline) throw new Error(`cluster not healthy after ${timeoutMs} ms: ${missing}`);
    await sleep(250);
  }
}

/** Puts a copy of each machine's generated data dir where the machine will look for its own. */
function copyHistory(from: string, dataDir: string, machines: string[]): void {
  for (const m of machines) {
    const rooms = machinePath(machineDirOf(from, m), 'rooms');
    if (!existsSync(rooms)) throw new Error(`${from} holds no history for ${m} (expected ${rooms}; make one with node dist/bench/history-gen.js --out ${from})`);
    cpSync(machineDirOf(from, m), machineDirOf(dataDir, m), { recursive: true });
  }
}

/** What keeps the cluster from being whole ('' when every role of every machine is up at full count). */
function unhealthy(config: ClusterConfig, status: Awaited<ReturnType<typeof clusterStatus>>): string {
  const problems: string[] = [];
  for (const m of Object.keys(config.machines)) {
    const up = (roles: string[]): number => status.processes.filter((p) => p.machine === m && roles.includes(p.role) && p.state === 'up').length;
    const want: [string, string[], number][] = [
      ['primary', ['master', 'supervisor'], 1],
      ['workers', ['worker'], config.workers],
      ['replicator', ['replicator'], 1],
      ['guardians', ['replica', 'guardian'], config.guardians],
    ];
    for (const [name, roles, n] of want) if (up(roles) < n) problems.push(`${m} ${name} ${up(roles)}/${n} up`);
  }
  return problems.join(', ');
}

