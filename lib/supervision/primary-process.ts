/**
 * A machine's primary in its cluster role: the master on the master machine, a
 * supervisor elsewhere. Taking over is fenced three ways: a primary that no
 * longer answers its admin port is killed first (it may only be paused), the
 * admin port is bound by one process at a time, and the proper-lockfile lock
 * plus a raised term in primary.json make a stale primary that wakes up step down.
 */
import { isDiskFault } from '../core/disk-fault';
import { internalRequestError } from '../core/input-bounds';
import { mkdirSync, rmSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { watch, type FSWatcher } from 'chokidar';
import lockfile from 'proper-lockfile';
import { adminAddress, type ClusterConfig } from '../common/config';
import { EXIT_STEPPED_DOWN } from '../common/exit-codes';
import { errorMessage, type Logger } from '../common/log';
import { ftchatProto } from '../common/proto';
import { serveInternal } from '../common/internal-server';
import type { AdminHandlers } from '../gen/ftchat/Admin';
import type { ProcessInfo } from '../gen/ftchat/ProcessInfo';
import type { StatusResponse } from '../gen/ftchat/StatusResponse';
import { runPrimary, type Primary } from '../server/primary';
import { BeatWatcher, primaryBeatPath } from './beat-file';
import { clockOffsetMs, lockFs } from '../storage/lock-clock';
import { quarantinedFiles } from '../storage/room-files';
import { AdminPeer } from './admin-client';
import { keepGuardians, type GuardianKeeper } from './guardian-keeper';
import { watchRemoteChildren } from './remote-watch';
import { isAlive, uptimeMs } from '../common/proc-stat';
import { isServerOf, readRecord, recordPath, writeRecord } from './primary-record';
import { waitUntil } from '../common/wait-until';
import { machineDirOf, machinePath } from '../storage/data-dir';
import { RestartLedger } from '../storage/restart-ledger';
import { childSpecs } from '../cluster/child-supervisor';
import { serveMachineMetrics } from './machine-metrics';

export class AlreadyRunning extends Error {}
/** A revival found the machine stopped cleanly: it does not start it. */
class MachineStopped extends Error {}

export interface PrimaryProcessOptions {
  config: ClusterConfig;
  machine: string;
  log: Logger;
  fbsCommand: string[];
}

export function primaryRole(config: ClusterConfig, machine: string): 'master' | 'supervisor' {
  return machine === config.master ? 'master' : 'supervisor';
}

export function guardianRole(config: ClusterConfig, machine: string): 'replica' | 'guardian' {
  return machine === config.master ? 'replica' : 'guardian';
}

export async function runPrimaryProcess(opts: PrimaryProcessOptions): Promise<{ stop(): Promise<void> }> {
  const { config, machine, log } = opts;
  const machineDir = machineDirOf(config.dataDir, machine);
  mkdirSync(machineDir, { recursive: true });

  const previous = readRecord(machineDir);
  await fenceStalePrimary(config, machine, previous?.pid ?? 0, log);

  const term = Math.max(previous?.term ?? 0, Number(process.env.FBS_TERM ?? 0)) + 1;
  const died = !!previous && previous.pid !== 0; // not stopped cleanly: our children died with it
  const restarts = (previous?.restarts ?? 0) + (died ? 1 : 0);
  const ledger = new RestartLedger(machineDir);
  const self: PrimarySelf = { config, machine, role: primaryRole(config, machine), term, restarts, machineDir };
  const running: Running = { primary: null, guardians: undefined };
  // Kept from the moment we hold the admin port (a Watch call may come first), never before:
  // a start that only stands by must not beat primary.beat for the primary that runs.
  const keeper = (): GuardianKeeper => (running.guardians ??= keepGuardians({ config, machine, term, log, fbsCommand: opts.fbsCommand, restarts: ledger }));
  const admin = await serveAdmin(self, running, keeper, log);
  // A guardian's revival that lost the race with a clean stop (the stopping primary marks
  // the record before it frees the port we now hold) must not bring the machine back.
  if (process.env.FBS_TERM !== undefined && readRecord(machineDir)?.pid === 0) {
    await running.guardians?.stop();
    admin.forceShutdown();
    throw new MachineStopped(`${machine} was stopped cleanly`);
  }
  keeper();

  const stepDown = (reason: string): never => {
    log.error('stepping down', { reason, term });
    process.exit(EXIT_STEPPED_DOWN);
  };
  const release = await takeCharge(self, log, stepDown);
  log.info(`${self.role} in charge`, { term, restarts, previousPid: previous?.pid ?? null });
  const recordWatch = stepDownForSuccessor(self, stepDown);

  if (died) ledger.bump(...childSpecs(config.workers).map((c) => `${c.role}.${c.slot}`));
  if (process.env.FBS_ELECTED !== undefined) ledger.elected();
  running.primary = runPrimary({ config, machine, log, restarts: ledger });
  const endpoint = await serveMachineMetrics(self, running.primary, ledger, log);
  // The master heartbeats the other machines' children through their supervisors.
  const remote = self.role === 'master' ? watchRemoteChildren({ config, machine, log }) : null;

  return {
    async stop() {
      remote?.stop();
      await endpoint.close();
      await recordWatch.close();
      // Guardians first (they would revive us), then our children.
      await running.guardians?.stop();
      await running.primary?.stop();
      // A clean stop is not a failure: the next primary does not count it as a restart.
      await writeRecord(machineDir, { pid: 0, term, restarts, startedAt: new Date().toISOString() });
      await release();
      admin.forceShutdown();
    },
  };
}

/** Who this primary process is: fixed once it has read the previous record. */
interface PrimarySelf {
  config: ClusterConfig;
  machine: string;
  role: 'master' | 'supervisor';
  term: number;
  restarts: number;
  machineDir: string;
}

/** What the admin port serves while the primary starts up: each is null or undefined until it runs. */
interface Running {
  primary: Primary | null;
  guardians: GuardianKeeper | undefined;
}

/** Binds the machine's admin port (one process at a time: the second start gets AlreadyRunning). */
async function serveAdmin(self: PrimarySelf, running: Running, keeper: () => GuardianKeeper, log: Logger): Promise<grpc.Server> {
  const { config, machine } = self;
  try {
    return await serveInternal(ftchatProto().ftchat.Admin.service, adminHandlers(self, running, keeper), adminAddress(config, machine), config, machine, log, internalRequestError);
  } catch (err) {
    throw new AlreadyRunning(`another primary of ${machine} holds ${adminAddress(config, machine)} (${errorMessage(err)})`);
  }
}

function adminHandlers(self: PrimarySelf, running: Running, keeper: () => GuardianKeeper): AdminHandlers {
  const { machine, role, term } = self;
  return {
    Heartbeat: (_call, cb) => cb(null, { machine, role, pid: process.pid, term }),
    Status: (_call, cb) => cb(null, statusOf(self, running)),
    WatchChildren: (call) => {
      call.on('data', () => {
        running.primary?.masterSeen();
        call.write(statusOf(self, running));
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined); // the master went away; it opens a new stream
    },
    Watch: (call) => keeper().watch(call),
    Elect: (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED, details: 'primaries take no part in elections' }),
    Revive: (call, cb) => {
      const { role, slot, pid } = call.request;
      cb(null, { action: running.primary ? running.primary.revive(role, slot, pid) : 'none: the primary is still starting' });
    },
  };
}

/** The machine's status: this process, its children and its guardians. */
function statusOf({ config, machine, role, term, restarts, machineDir }: PrimarySelf, { primary, guardians }: Running): StatusResponse {
  const self: ProcessInfo = { machine, role, pid: process.pid, state: 'up', restarts, heartbeat_age_ms: 0, slot: '', uptime_ms: Math.round(process.uptime() * 1000) };
  return {
    machine,
    term,
    clock_offsets_ms: primary?.clockOffsets() ?? {},
    max_clock_offset_ms: config.maxClockOffsetMs,
    quarantined: quarantinedFiles(machineDir),
    processes: [
      self,
      ...(primary?.children() ?? []).map((c) => ({
        machine, role: c.role, pid: c.pid, state: c.state, restarts: c.restarts, heartbeat_age_ms: c.heartbeatAgeMs, slot: String(c.slot), uptime_ms: uptimeMs(c.pid),
      })),
      ...(guardians?.view() ?? []).map((g) => ({
        machine, role: guardianRole(config, machine), pid: g.pid, state: g.state, restarts: g.restarts, heartbeat_age_ms: g.heartbeatAgeMs, slot: String(g.slot), uptime_ms: uptimeMs(g.pid),
      })),
    ],
  };
}

/**
 * Takes the primary lock and writes our record; returns the lock's release. We alone
 * hold the admin port now, so a lock left behind belongs to a dead primary. A full
 * disk (the clock probe, the lock, the record all write) makes us wait, serving
 * status, instead of exiting into a restart loop; we go on once space returns.
 */
async function takeCharge(self: PrimarySelf, log: Logger, stepDown: (reason: string) => never): Promise<() => Promise<void>> {
  const { machineDir, term, restarts } = self;
  for (let waiting = false; ; ) {
    let release: (() => Promise<void>) | undefined;
    try {
      release = await takePrimaryLock(machineDir, self.config.storage.lockStaleMs, stepDown);
      await writeRecord(machineDir, { pid: process.pid, term, restarts, startedAt: new Date().toISOString() });
      return release;
    } catch (err) {
      if (!isDiskFault(err)) throw err;
      if (!waiting) log.error('cannot start: the data dir refuses writes; waiting for space', { error: errorMessage(err) });
      waiting = true;
      await release?.().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, DISK_RETRY_MS));
    }
  }
}

/**
 * Steps down the moment a successor rewrites the record: chokidar tells us (inotify:
 * no polling, and a paused primary gets the news as soon as it runs again).
 */
function stepDownForSuccessor({ machineDir, term }: PrimarySelf, stepDown: (reason: string) => never): FSWatcher {
  const recordWatch = watch(recordPath(machineDir), { ignoreInitial: true });
  recordWatch.on('all', () => {
    const now = readRecord(machineDir);
    if (now && (now.term > term || (now.term === term && now.pid !== process.pid))) {
      stepDown(`a newer primary holds term ${now.term} (pid ${now.pid})`);
    }
  });
  return recordWatch;
}

/**
 * `fbs start`: become the machine's primary, or, while a healthy one runs (a
 * guardian revived it, and now systemd restarts us too), stand by and take over
 * when it dies. Returns null if the machine was stopped cleanly meanwhile.
 */
export async function startOrStandBy(opts: PrimaryProcessOptions): Promise<{ stop(): Promise<void> } | null> {
  const { config, machine, log } = opts;
  const machineDir = machineDirOf(config.dataDir, machine);
  for (;;) {
    try {
      return await runPrimaryProcess(opts);
    } catch (err) {
      if (err instanceof MachineStopped) return null;
      if (!(err instanceof AlreadyRunning)) throw err;
      log.info('standing by: a primary is running', { reason: err.message });
    }
    const peer = new AdminPeer(adminAddress(config, machine), config);
    try {
      for (;;) {
        await new Promise((r) => setTimeout(r, config.timing.heartbeatMs));
        const alive = await peer.heartbeat(config.timing.heartbeatMs * 2).then(() => true, () => false);
        if (alive) continue;
        const rec = readRecord(machineDir);
        if (rec?.pid === 0) return null;
        if (!rec || !isAlive(rec.pid)) break;
      }
    } finally {
      peer.close();
    }
  }
}

/**
 * If the recorded primary still runs but shows no sign of life for the failure
 * timeout (no answer on its admin port, no touch of its beat file: it may be
 * paused), kill its process group so it can never run beside its successor. One
 * that answers or beats, however slowly, runs: we stand by. (A 300 ms probe killed
 * healthy primaries that a loaded host kept from answering in time, and every start
 * after them did the same: at 1,000,000 events no post was served for minutes.)
 */
async function fenceStalePrimary(config: ClusterConfig, machine: string, pid: number, log: Logger): Promise<void> {
  if (pid === 0 || pid === process.pid || !isAlive(pid) || !isServerOf(pid, machine)) return;
  const { deadAfterMs, heartbeatMs } = config.timing;
  if (await showsLife(config, machine, pid, deadAfterMs, heartbeatMs / 4)) throw new AlreadyRunning(`${machine} already has a primary (pid ${pid})`);
  if (!isAlive(pid)) return; // it died meanwhile
  log.warn('fencing an unresponsive primary', { stalePid: pid, silentMs: deadAfterMs });
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* not a group leader, or already gone */
    }
  }
  await waitUntil(() => !isAlive(pid), 5_000);
}

/** Whether primary `pid` answers its admin port as itself, or touches its beat file, within `withinMs`. */
async function showsLife(config: ClusterConfig, machine: string, pid: number, withinMs: number, lookEveryMs: number): Promise<boolean> {
  const peer = new AdminPeer(adminAddress(config, machine), config);
  const beats = new BeatWatcher(primaryBeatPath(machineDirOf(config.dataDir, machine)));
  beats.beaten(); // the mtime as it is now: only a change counts
  let answered = false;
  peer.heartbeat(withinMs).then((res) => (answered = res.pid === pid), () => undefined);
  try {
    await waitUntil(() => answered || beats.beaten() || !isAlive(pid), withinMs, lookEveryMs);
    return isAlive(pid);
  } catch {
    return false;
  } finally {
    peer.close();
  }
}

/** A start on a full disk tries again this often. */
const DISK_RETRY_MS = 1_000;

/** The machine's primary lock; one left behind by a dead primary is removed (we alone hold the admin port). */
async function takePrimaryLock(machineDir: string, stale: number, stepDown: (reason: string) => never): Promise<() => Promise<void>> {
  const lockOptions = {
    fs: lockFs(clockOffsetMs(machineDir)),
    lockfilePath: machinePath(machineDir, 'primaryLock'),
    realpath: false,
    stale,
    retries: 0,
    onCompromised: (err: Error) => stepDown(`primary lock compromised: ${err.message}`),
  };
  try {
    return await lockfile.lock(machineDir, lockOptions);
  } catch (err) {
    if (isDiskFault(err)) throw err;
    rmSync(lockOptions.lockfilePath, { recursive: true, force: true });
    return lockfile.lock(machineDir, lockOptions);
  }
}
