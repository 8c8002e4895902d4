/**
 * data/<machine>/primary.json names the machine's current primary (pid, term,
 * restarts). With the admin port (bound by one process at a time) and the
 * proper-lockfile lock, it fences primaries: a newcomer raises the term, and a
 * primary that finds a higher term than its own steps down.
 */
import type { ChildProcess } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import { readCommandLine, type CommandLine } from '../common/fbs-command-line';
import { waitUntil } from '../common/wait-until';
import { isAlive } from '../common/proc-stat';
import { machinePath } from '../storage/data-dir';

export interface PrimaryRecord {
  pid: number;
  term: number;
  restarts: number;
  startedAt: string;
}

export function recordPath(machineDir: string): string {
  return machinePath(machineDir, 'primaryRecord');
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


/** The command line of `pid` if it is an ftchat server process of `machine`, else null. */
function serverCommand(pid: number, machine: string): CommandLine | null {
  try {
    const line = readCommandLine(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'));
    return line.verb !== null && line.machine === machine ? line : null;
  } catch {
    return null;
  }
}

/** True if `pid` is an ftchat server process of `machine` (not an unrelated process that reused the pid). */
export function isServerOf(pid: number, machine: string): boolean {
  return serverCommand(pid, machine) !== null;
}

/** True if `pid` is a live guardian of `machine`'s `slot` on this machine: what a pid from the network must be to count. */
export function isGuardianOf(pid: number, machine: string, slot: number): boolean {
  const line = Number.isSafeInteger(pid) && pid > 1 && isAlive(pid) ? serverCommand(pid, machine) : null;
  return line?.verb === 'guardian' && line.slot === String(slot);
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

/**
 * SIGTERM our own children that still run, wait for them, SIGKILL what outlives the
 * grace period. Only ChildProcess handles: node signals one only while it has not
 * reaped it, so a pid reused by another process is never hit.
 */
export async function terminate(children: ChildProcess[], graceMs: number): Promise<void> {
  const running = (c: ChildProcess): boolean => c.exitCode === null && c.signalCode === null;
  const live = children.filter(running);
  for (const c of live) c.kill('SIGTERM');
  try {
    await waitUntil(() => !live.some(running), graceMs);
  } catch {
    for (const c of live.filter(running)) c.kill('SIGKILL');
  }
}
