/**
 * Starting and stopping machines from the command line. `stop` must run on the
 * machine it stops (it signals pids): the primary first, which marks the machine
 * stopped (so no guardian revives it) and stops its children, then any guardians
 * left; then whatever process of the machine did not stop is killed.
 */
import { spawn } from 'node:child_process';
import { adminAddress, type ClusterConfig } from '../common/config';
import { isAlive, procStat } from '../common/proc-stat';
import { describeServerProcess, killUntilGone, serverPids, serverProcesses, signalPids } from '../common/processes';
import { readRecord } from '../supervision/primary-record';
import { machineDirOf } from '../storage/data-dir';
import { AdminPeer } from '../supervision/admin-client';
import { waitUntil } from '../common/wait-until';
import { MACHINE_ANSWER_MS } from './status';
import { announceReady } from './start-summary';
import { serverCommandLine } from '../common/fbs-command-line';

/**
 * How long SIGTERM gets before SIGKILL. A serving tree stops in well under a second;
 * a child still loading its room files, paused or hung never acts on SIGTERM (and
 * its primary waits for it), and left alone it would hold its memory and ports with
 * nothing watching it. 5 s leaves a busy machine time to finish the batch in hand.
 */
const STOP_GRACE_MS = 5_000;
/** SIGKILL takes effect at once; this only bounds the sweep against a process started meanwhile. */
const KILL_WAIT_MS = 5_000;

async function pidAt(config: ClusterConfig, address: string): Promise<number> {
  const peer = new AdminPeer(address, config);
  try {
    return (await peer.heartbeat(MACHINE_ANSWER_MS)).pid;
  } catch {
    return 0;
  } finally {
    peer.close();
  }
}

export async function stopMachine(config: ClusterConfig, machine: string, say: (line: string) => void = console.log): Promise<void> {
  const guardians = await Promise.all(Array.from({ length: config.guardians }, (_, i) => pidAt(config, adminAddress(config, machine, i))));
  const answered = await pidAt(config, adminAddress(config, machine));
  const deadline = Date.now() + STOP_GRACE_MS;
  const until = (cond: () => boolean): Promise<void> => waitUntil(cond, Math.max(0, deadline - Date.now())).catch(() => undefined);
  // A pid from an answer is signalled only while /proc shows it as one of this machine's
  // processes (same --machine, same config): whatever answered may not be what it says.
  const live = (pids: number[]): number[] => {
    const ours = new Set(serverPids(config.file, machine));
    return pids.filter((p) => p > 0 && ours.has(p) && isAlive(p)); // pid 0 would signal our own group
  };
  // One too busy to answer is still the machine's primary if its record names it.
  const primary = answered || (live([readRecord(machineDirOf(config.dataDir, machine))?.pid ?? 0])[0] ?? 0);
  // The primary takes its guardians down with it; any left (the primary was dead) go next.
  signalPids(live([primary]), 'SIGTERM');
  await until(() => live([primary]).length === 0);
  signalPids(live(guardians), 'SIGTERM');
  await until(() => serverPids(config.file, machine).length === 0);
  // Found by /proc, not by answering: children still loading, paused or hung too. The sweep
  // repeats until none is left, in case a guardian started a primary meanwhile.
  const stubborn = serverProcesses(config.file, machine, primary).map((p) => `${describeServerProcess(p)}${procStat(p.pid)?.[0] === 'T' ? ' (paused)' : ''}`);
  await killUntilGone(() => serverPids(config.file, machine), machine, KILL_WAIT_MS);
  const killed = stubborn.length > 0 ? `; killed ${stubborn.length} that did not stop within ${STOP_GRACE_MS / 1000} s: ${stubborn.join(', ')}` : '';
  say(`stopped ${machine}${primary ? '' : ' (its primary was not running)'}${killed}`);
}

/** How `npm start` reports: the terminal summary, or nothing of its own beyond the machines' logs. */
export interface StartAllOptions {
  /** Print each machine up, `ready`, and the stop lines (a terminal). */
  summary: boolean;
  say: (line: string) => void;
}

/**
 * `npm start`: every machine on this host, in the foreground; Ctrl-C (or SIGTERM,
 * or the terminal closing) stops them all, once, one line per machine. Each machine
 * runs in its own process group, so the terminal's SIGINT reaches only us: a primary
 * stops once, when we stop its machine, not also on its own.
 */
export async function startAll(config: ClusterConfig, fbsCommand: string[], opts: StartAllOptions): Promise<void> {
  const machines = Object.keys(config.machines);
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    if (opts.summary) opts.say('stopping every machine...');
    await Promise.all(machines.map((m) => stopMachine(config, m, opts.say)));
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stopAll());
  const starts = machines.map((machine) => {
    const { cmd, args } = serverCommandLine(fbsCommand, { verb: 'start', machine, config: config.file });
    const child = spawn(cmd, args, {
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, FBS_SUMMARY: '0' },
    });
    child.on('exit', (code, signal) => {
      if (!stopping && code !== 0) opts.say(`${machine}: fbs start exited (${code ?? signal}); see ${machine}'s log in its data dir's logs/`);
    });
    return child;
  });
  if (opts.summary) await announceReady(config, machines, opts.say, () => stopping || starts.every((c) => c.exitCode !== null));
}
