/**
 * A guardian (on the master machine: a replica master) watches its machine's
 * primary. It runs detached, in its own process group, so it outlives the
 * primary. When the primary is gone — its Watch stream broken and its pid
 * dead, or its beat file untouched past the failure timeout — the guardians hold
 * a ring election and the winner starts a new primary with the election's term.
 * Timing uses the monotonic clock: wall clocks here may jump.
 */
import { internalRequestError } from '../core/input-bounds';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { adminAddress, type ClusterConfig } from '../common/config';
import { errorMessage, type Logger } from '../common/log';
import { ftchatProto } from '../common/proto';
import { serveInternal } from '../common/internal-server';
import type { AdminHandlers } from '../gen/ftchat/Admin';
import type { RingMsg } from '../cluster/election';
import { Reviver, type ReviverAction } from '../cluster/reviver';
import { AdminPeer } from './admin-client';
import { Beater, BeatWatcher, primaryBeatPath } from './beat-file';
import { EXIT_GRACE_MS, GUARDIAN_BEAT_MS, guardianId } from './guardian-keeper';
import { guardianRole } from './primary-process';
import { diesWithin, readRecord } from './primary-record';
import { guardianBeatPath, machineDirOf } from '../storage/data-dir';
import { RestartLedger } from '../storage/restart-ledger';
import { serverCommandLine } from '../common/fbs-command-line';

export interface GuardianOptions {
  config: ClusterConfig;
  machine: string;
  slot: number;
  log: Logger;
  fbsCommand: string[];
}

/** At most one "election decided" line this often. */
const DECIDED_LOG_MS = 1_000;

/** How long a primary we (or the ring's leader) started may take to answer before we act again. */
const REVIVE_GRACE_MS = 5_000;

export async function runGuardian(opts: GuardianOptions): Promise<void> {
  const { config, machine, slot } = opts;
  const me = guardianId(machine, slot);
  const members = Array.from({ length: config.guardians }, (_, i) => guardianId(machine, i));
  const reviver = newReviver(config, machine, me, members);
  const act = reviverActions(opts, reviver, me, members);

  // Serve first: a guardian whose slot is taken exits before the primary ever hears of it.
  let watch: ReturnType<typeof watchPrimary> | undefined;
  const server = await serveGuardian(opts, () => watch?.term() ?? 0, (msg) => act(reviver.receive(msg, performance.now())));
  watch = watchPrimary(opts, me, {
    heard: (term) => reviver.primaryHeard(performance.now(), term),
    died: () => act(reviver.primaryDied(performance.now())),
  });
  tickEveryHeartbeat(opts, me, members, reviver, watch, act);

  const stop = (): void => {
    server.forceShutdown();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function newReviver(config: ClusterConfig, machine: string, me: string, members: string[]): Reviver {
  const { heartbeatMs, suspectAfterMs, deadAfterMs, electionTimeoutMs, startupGraceMs } = config.timing;
  // New terms start above the newest primary's, so a revived primary always fences the old one.
  return new Reviver(
    {
      self: me,
      members,
      detector: { heartbeatMs, suspectAfterMs, deadAfterMs, startupGraceMs },
      electionTimeoutMs,
      reviveGraceMs: REVIVE_GRACE_MS,
      initialTerm: readRecord(machineDirOf(config.dataDir, machine))?.term ?? 0,
    },
    performance.now(),
  );
}

/** Carries out the reviver's actions: ring messages to the siblings (a failed delivery goes back to it), a new primary, log lines. */
function reviverActions(opts: GuardianOptions, reviver: Reviver, me: string, members: string[]): (actions: ReviverAction[]) => void {
  const { config, machine, log } = opts;
  const siblings = new Map(
    members.map((id, i) => [id, new AdminPeer(adminAddress(config, machine, i), config)] as const).filter(([id]) => id !== me),
  );
  let decidedLoggedAt = -Infinity;
  const act = (actions: ReviverAction[]): void => {
    for (const a of actions) {
      if ('send' in a) deliver(a.send.to, a.send.msg);
      else if ('revive' in a) startPrimary(opts, a.revive);
      else if ('electing' in a) log.warn('primary is dead; starting an election', { silentMs: Math.round(a.electing.silentMs) });
      else if (performance.now() - decidedLoggedAt >= DECIDED_LOG_MS) {
        decidedLoggedAt = performance.now(); // forged announcements must not flood the log
        log.info('election decided', { term: a.decided.term, leader: a.decided.leaderId });
      }
    }
  };
  const deliver = (to: string, msg: RingMsg): void => {
    const peer = siblings.get(to);
    if (!peer) return act(reviver.deliveryFailed(to, msg, performance.now()));
    peer.elect(toWire(msg, me), config.timing.heartbeatMs * 2).catch(() => act(reviver.deliveryFailed(to, msg, performance.now())));
  };
  return act;
}

/**
 * Every heartbeat: the primary's beat file, our Watch stream kept open, the reviver's
 * tick; every guardian beat, our own beat file and the siblings'.
 */
function tickEveryHeartbeat(opts: GuardianOptions, me: string, members: string[], reviver: Reviver, watch: { keepOpen(): void }, act: (actions: ReviverAction[]) => void): void {
  const { config, slot, log } = opts;
  const machineDir = machineDirOf(config.dataDir, opts.machine);
  const primaryBeats = new BeatWatcher(primaryBeatPath(machineDir));
  const myBeats = new Beater(guardianBeatPath(machineDir, slot), log);
  // A sibling the ring routed around (a failed delivery while it restarted) rejoins once it beats again.
  const siblingBeats = members.map((id, i) => [id, new BeatWatcher(guardianBeatPath(machineDir, i))] as const).filter(([id]) => id !== me);
  let lastBeat = 0;
  setInterval(() => {
    const now = performance.now();
    if (primaryBeats.beaten()) reviver.primaryHeard(now);
    watch.keepOpen();
    if (now - lastBeat >= GUARDIAN_BEAT_MS) {
      myBeats.beat();
      for (const [id, beats] of siblingBeats) if (beats.beaten()) reviver.siblingAlive(id);
      lastBeat = now;
    }
    act(reviver.tick(now));
  }, config.timing.heartbeatMs);
}

/** Starts a new primary of the machine, detached (it outlives us), with the term to fence the old one. */
function startPrimary(opts: GuardianOptions, { term, why, silentMs }: { term: number; why: string; silentMs: number }): void {
  const { config, machine, log } = opts;
  const { cmd, args } = serverCommandLine(opts.fbsCommand, { verb: 'start', machine, config: config.file });
  const child = spawn(cmd, args, {
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit'],
    // FBS_ELECTED: the new primary counts the election (inherited from an elected primary otherwise: cleared).
    env: { ...process.env, FBS_MACHINE: machine, FBS_TERM: String(term), FBS_ELECTED: why === 'elected' ? '1' : undefined },
  });
  child.unref();
  const msg = why === 'elected' ? 'won the election; starting a new primary' : "the primary stayed dead past the ring's grace; starting it";
  log.warn(msg, { term, primaryPid: child.pid, silentMs: Math.round(silentMs) });
}

/** Our Admin service: it answers heartbeats and status, and takes ring messages (`elect`); exits if the slot is taken. */
async function serveGuardian(opts: GuardianOptions, primaryTerm: () => number, elect: (msg: RingMsg) => void): Promise<grpc.Server> {
  const { config, machine, slot, log } = opts;
  const role = guardianRole(config, machine);
  const handlers: AdminHandlers = {
    Heartbeat: (_call, cb) => cb(null, { machine, role, pid: process.pid, term: primaryTerm() }),
    Status: (_call, cb) =>
      cb(null, {
        machine,
        term: primaryTerm(),
        processes: [{ machine, role, pid: process.pid, state: 'up', restarts: new RestartLedger(machineDirOf(opts.config.dataDir, machine)).count(`guardian.${slot}`), heartbeat_age_ms: 0, slot: String(slot), uptime_ms: Math.round(process.uptime() * 1000) }],
      }),
    Watch: (call) => call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'guardians are not watched' }),
    WatchChildren: (call) => call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'guardians fork no children' }),
    Revive: (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED, details: 'guardians fork no children; ask the primary' }),
    Elect: (call, cb) => {
      cb(null, {});
      const msg = fromWire(call.request);
      if (msg) elect(msg);
    },
  };
  try {
    const server = await serveInternal(ftchatProto().ftchat.Admin.service, handlers, adminAddress(config, machine, slot), config, machine, log, internalRequestError);
    log.info('guardian watching the primary', { slot, address: adminAddress(config, machine, slot) });
    return server;
  } catch (err) {
    log.info('guardian slot already taken; exiting', { slot, error: errorMessage(err) });
    process.exit(0);
  }
}

/**
 * Our Watch stream to the primary: its answers say it lives (and its term); when it
 * breaks, the recorded pid is checked at once (same machine: a broken stream and a
 * dead pid mean dead now, no need to wait out the timeout). A primary that says the
 * machine is stopping (pid 0), or a clean stop on record, ends this guardian.
 */
function watchPrimary(opts: GuardianOptions, me: string, on: { heard(term: number): void; died(): void }) {
  const { config, machine, log } = opts;
  const machineDir = machineDirOf(config.dataDir, machine);
  const peer = new AdminPeer(adminAddress(config, machine), config);
  let term = 0;
  let watch: ReturnType<AdminPeer['watch']> | null = null;
  const broken = (stream: ReturnType<AdminPeer['watch']>): void => {
    if (watch !== stream) return;
    watch = null;
    const rec = readRecord(machineDir);
    if (rec?.pid === 0) {
      log.info('the machine was stopped cleanly; guardian exiting');
      process.exit(0);
    }
    if (!rec) return on.died();
    void diesWithin(rec.pid, EXIT_GRACE_MS).then((gone) => {
      if (gone && readRecord(machineDir)?.pid === rec.pid) on.died(); // still the recorded primary: no successor yet
    });
  };
  const open = (): void => {
    const stream = peer.watch();
    watch = stream;
    stream.write({ from: me, pid: process.pid, term }); // who we are; the answer carries the primary's term
    stream.on('data', (b: { pid: number; term: number }) => {
      if (b.pid === 0) {
        log.info('the primary is stopping the machine; guardian exiting');
        process.exit(0);
      }
      term = Number(b.term);
      on.heard(term);
    });
    stream.on('error', () => broken(stream));
    stream.on('end', () => broken(stream));
  };
  open();
  return {
    term: (): number => term,
    keepOpen: (): void => {
      if (!watch) open();
    },
  };
}

function toWire(msg: RingMsg, from: string) {
  return msg.kind === 'election'
    ? { kind: msg.kind, term: msg.term, candidate: msg.candidateId, origin: msg.origin, from }
    : { kind: msg.kind, term: msg.term, candidate: msg.leaderId, origin: '', from };
}

function fromWire(w: { kind: string; term: number; candidate: string; origin: string }): RingMsg | null {
  const term = Number(w.term);
  if (w.kind === 'election') return { kind: 'election', term, candidateId: w.candidate, origin: w.origin };
  if (w.kind === 'elected') return { kind: 'elected', term, leaderId: w.candidate };
  return null;
}
