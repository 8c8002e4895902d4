/** When a process started, on the wall clock, from /proc (10 ms resolution): to place a new process among log lines. */
import { readFileSync } from 'node:fs';
import { procStat } from '../lib/common/proc-stat';
import { nowMs } from './stats';

/** USER_HZ = 100: /proc start times count 10 ms ticks since boot. */
export const TICK_MS = 10;

// Wall-clock time of boot, from /proc/uptime.
let bootMs = 0;

/** When a process started (wall-clock ms), from /proc/<pid>/stat; 0 if it is gone. */
export function startedAtMs(pid: number): number {
  if (bootMs === 0) bootMs = nowMs() - Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
  const fields = procStat(pid);
  return fields ? bootMs + Number(fields[19]) * TICK_MS : 0;
}
