/**
 * /proc/<pid>/stat, split after the command name (which may itself contain spaces
 * and parentheses): index 0 is the state (field 3 in proc(5)), 1 the ppid, 11 and
 * 12 utime and stime, 19 starttime. Null once the process is gone.
 */
import { readFileSync } from 'node:fs';

export function procStat(pid: number | string): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  } catch {
    return null;
  }
}

/** A zombie (dead, not yet reaped by its parent) counts as dead: it will never run again. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = procStat(pid);
  return stat !== null && stat[0] !== 'Z'; // null: gone between the two looks
}

/** Clock ticks per second of /proc's times (USER_HZ: 100 on every Linux this runs on). */
const TICKS_PER_S = 100;

/** How long `pid` has run, in ms, from /proc (so only for a process of this host); -1 once it is gone. */
export function uptimeMs(pid: number): number {
  const stat = procStat(pid);
  if (stat === null) return -1;
  try {
    const sinceBoot = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Math.max(0, Math.round((sinceBoot - Number(stat[19]) / TICKS_PER_S) * 1000));
  } catch {
    return -1;
  }
}
