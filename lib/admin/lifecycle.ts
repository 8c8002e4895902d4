/**
 * Starting and stopping machines from the command line. `stop` must run on the
 * machine it stops (it signals pids): guardians first, so none revives the
 * primary, then the primary, which stops its children.
 */
import { spawn } from 'node:child_process';
import { adminAddress, type ClusterConfig } from '../common/config';
import { AdminPeer } from '../supervision/admin-client';
import { terminate } from '../supervision/primary-record';

async function pidAt(config: ClusterConfig, address: string): Promise<number> {
  const peer = new AdminPeer(address, config.secret);
  try {
    return (await peer.heartbeat({ from: 'fbs-stop', term: 0 }, 700)).pid;
  } catch {
    return 0;
  } finally {
    peer.close();
  }
}

export async function stopMachine(config: ClusterConfig, machine: string): Promise<void> {
  const guardians = await Promise.all(Array.from({ length: config.guardians }, (_, i) => pidAt(config, adminAddress(config, machine, i))));
  const primary = await pidAt(config, adminAddress(config, machine));
  // The primary takes its guardians down with it; any left (the primary was dead) go next.
  await terminate([primary]);
  await terminate(guardians);
  console.log(`stopped ${machine}${primary ? '' : ' (its primary was not running)'}`);
}

/** `npm start`: every machine on this host, in the foreground; Ctrl-C stops them all. */
export async function startAll(config: ClusterConfig, fbsCommand: string[]): Promise<void> {
  const [cmd, ...args] = fbsCommand;
  for (const machine of Object.keys(config.machines)) {
    spawn(cmd, [...args, 'start', '--machine', machine, '--config', config.file], { stdio: ['ignore', 'inherit', 'inherit'] });
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
