/**
 * data/<machine>/primary.json names the machine's current primary (pid, term,
 * restarts). With the admin port (bound by one process at a time) and the
 * proper-lockfile lock, it fences primaries: a newcomer raises the term, and a
 * primary that finds a higher term than its own steps down.
 */
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from './wait-until';
import { isAlive } from '../common/proc-stat';

export interface PrimaryRecord {
  pid: number;
  term: number;
  restarts: number;
  startedAt: string;
}

export function recordPath(machineDir: string): string {
  return join(machineDir, 'primary.json');
}

export function readRecord(machineDir: string): PrimaryRecord | null {
  try {
    const r = JSON.parse(readFileSync(recordPath(machineDir), 'utf8')) as PrimaryRecord;
    return Number.isInteger(r.pid) && Number.isInteger(r.term) ? { ...r, restarts: r.restarts ?? 0 } : null;
  } catch {
    return null;
  }
}

/** Atomic replace: write a temp file, fsync, rename. */
export async function writeRecord(machineDir: string, record: PrimaryRecord): Promise<void> {
  const tmp = `${recordPath(machineDir)}.${process.pid}.tmp`;
  const fh = await fs.open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(record));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, recordPath(machineDir));
}


/** True if `pid` is an ftchat server process of `machine` (not an unrelated process that reused the pid). */
export function isServerOf(pid: number, machine: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const i = argv.indexOf('--machine');
    return i >= 0 && argv[i + 1] === machine && argv.some((a) => a.endsWith('fbs') || a.endsWith('fbs.js'));
  } catch {
    return false;
  }
}

/**
 * True once `pid` is dead, false if it still lives after `withinMs`. A killed
 * process's sockets close while it exits, a moment before kill(0) sees it dead:
 * whoever sees its connection break must look again shortly, not just once.
 */
export function diesWithin(pid: number, withinMs: number): Promise<boolean> {
  return waitUntil(() => !isAlive(pid), withinMs).then(
    () => true,
    () => false,
  );
}

/** SIGTERM the live ones among `pids`, wait for them, SIGKILL what outlives the grace period. */
export async function terminate(pids: number[], graceMs = 10_000): Promise<void> {
  const live = pids.filter((p) => p > 0 && isAlive(p));
  for (const pid of live) process.kill(pid, 'SIGTERM');
  try {
    await waitUntil(() => live.every((p) => !isAlive(p)), graceMs);
  } catch {
    for (const pid of live.filter(isAlive)) process.kill(pid, 'SIGKILL');
  }
}
