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
