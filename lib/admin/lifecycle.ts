/**
 * Starting and stopping machines from the command line. `stop` must run on the
 * machine it stops (it signals pids): the primary first, which marks the machine
 * stopped (so no guardian revives it) and stops its children, then any guardians
 * left; then whatever process of the machine did not stop is killed.
 */
import { spawn } from 'node:child_process';
import { adminAddress, type ClusterConfig } from '../common/config';
import { isAlive } from '../common/proc-stat';
import { killUntilGone, serverPids, signalPids } from '../common/processes';
import { AdminPeer } from '../supervision/admin-client';
import { waitUntil } from '../common/wait-until';
import { MACHINE_ANSWER_MS } from './status';
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

export async function stopMachine(config: ClusterConfig, machine: string): Promise<void> {
  const guardians = await Promise.all(Array.from({ length: config.guardians }, (_, i) => pidAt(config, adminAddress(config, machine, i))));
  const primary = await pidAt(config, adminAddress(config, machine));
  const deadline = Date.now() + STOP_GRACE_MS;
  const until = (cond: () => boolean): Promise<void> => waitUntil(cond, Math.max(0, deadline - Date.now())).catch(() => undefined);
  // A pid from an answer is signalled only while /proc shows it as one of this machine's
  // processes (same --machine, same config): whatever answered may not be what it says.
  const live = (pids: number[]): number[] => {
    const ours = new Set(serverPids(config.file, machine));
    return pids.filter((p) => p > 0 && ours.has(p) && isAlive(p)); // pid 0 would signal our own group
  };
  // The primary takes its guardians down with it; any left (the primary was dead) go next.
  signalPids(live([primary]), 'SIGTERM');
  await until(() => live([primary]).length === 0);
  signalPids(live(guardians), 'SIGTERM');
  await until(() => serverPids(config.file, machine).length === 0);
  // Found by /proc, not by answering: children still loading, paused or hung too. The sweep
  // repeats until none is left, in case a guardian started a primary meanwhile.
  const stubborn = serverPids(config.file, machine);
  await killUntilGone(() => serverPids(config.file, machine), machine, KILL_WAIT_MS);
  const killed = stubborn.length > 0 ? `; killed ${stubborn.length} that did not stop within ${STOP_GRACE_MS / 1000} s (pids ${stubborn.join(', ')})` : '';
  console.log(`stopped ${machine}${primary ? '' : ' (its primary was not running)'}${killed}`);
}

/** `npm start`: every machine on this host, in the foreground; Ctrl-C stops them all. */
export async function startAll(config: ClusterConfig, fbsCommand: string[]): Promise<void> {
  for (const machine of Object.keys(config.machines)) {
    const { cmd, args } = serverCommandLine(fbsCommand, { verb: 'start', machine, config: config.file });
    spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await Promise.all(Object.keys(config.machines).map((m) => stopMachine(config, m)));
    process.exit(0);
  };
  process.on('SIGINT', () => void stopAll());
  process.on('SIGTERM', () => void stopAll());
}
