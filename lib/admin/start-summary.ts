/**
 * What `fbs start` and `npm start` say in a terminal: each machine once it is up
 * (every process of its tree up in `fbs status`), then one `ready` line with the
 * command to try, and how to stop. "Up" is what `fbs status` says, read the same way.
 */
import { resolve } from 'node:path';
import { adminAddress, DEFAULT_CONFIG_FILE, metricsUrl, peerAddress, type ClusterConfig } from '../common/config';
import { clusterStatus, type ClusterStatus } from './status';

/** How often a starting machine is asked again. */
const POLL_MS = 500;

/** The machine's tree is complete and every process of it up. */
export function machineUp(config: ClusterConfig, status: ClusterStatus, machine: string): boolean {
  if (!status.machines[machine]?.reachable) return false;
  const mine = status.processes.filter((p) => p.machine === machine);
  const expected = 1 + config.workers + 1 + config.guardians; // primary, workers, replicator, guardians
  return mine.length >= expected && mine.every((p) => p.state === 'up');
}

/** One line naming a machine's role and ports. */
export function machineLine(config: ClusterConfig, status: ClusterStatus, machine: string): string {
  const m = config.machines[machine];
  const primary = status.processes.find((p) => p.machine === machine && (p.role === 'master' || p.role === 'supervisor'));
  return `${machine} up (${primary?.role ?? '?'}, pid ${primary?.pid ?? '?'}): clients ${m.host}:${m.port}, peers ${peerAddress(config, machine)}, admin ${adminAddress(config, machine)}, metrics ${metricsUrl(config, machine)}`;
}

/** The command a user runs to connect to this cluster. */
export function tryCommand(config: ClusterConfig): string {
  return resolve(config.file) === resolve(DEFAULT_CONFIG_FILE) ? './fbc -u alice' : `./fbc -u alice -c ${config.file}`;
}

/**
 * Prints each of `machines` once it is up, then `ready`. Resolves when all are up, or
 * when `cancelled()` (the operator stopped the start meanwhile).
 */
export async function announceReady(config: ClusterConfig, machines: string[], say: (line: string) => void, cancelled: () => boolean): Promise<boolean> {
  const announced = new Set<string>();
  while (!cancelled()) {
    const status = await clusterStatus(config);
    if (cancelled()) break;
    for (const m of machines) {
      if (announced.has(m) || !machineUp(config, status, m)) continue;
      announced.add(m);
      say(machineLine(config, status, m));
    }
    if (announced.size === machines.length) {
      const what = machines.length === 1 ? machines[0] : 'the cluster';
      say(`ready: try ${tryCommand(config)}   (Ctrl-C stops ${what}; fbs status shows every process)`);
      return true;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return false;
}
