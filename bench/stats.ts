/**
 * Measuring helpers shared by every benchmark: a clock that agrees across the
 * processes of one machine, percentiles, and per-process CPU and memory from /proc.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { procStat } from '../lib/common/proc-stat';

/** What every benchmark's result records about its run. */
export interface RunHeader {
  startedAt: string;
  node: string;
  loadAverage: { start: number[]; end: number[] };
  workers: number;
}

/** Call as a run starts; the function it returns gives the run's header when it ends. */
export function startRun(workers: number): () => RunHeader {
  const startedAt = new Date().toISOString();
  const start = loadavg();
  return () => ({ startedAt, node: process.version, loadAverage: { start, end: loadavg() }, workers });
}

export function loadAverageText(r: RunHeader): string {
  return `load average ${r.loadAverage.start[0].toFixed(1)} at start, ${r.loadAverage.end[0].toFixed(1)} at end`;
}

/** Wall-clock milliseconds with sub-millisecond resolution; comparable between processes on one host. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of the samples (milliseconds), rounded to 0.01. */
export function summarize(samples: number[]): Summary {
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number): number => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);
  const r = (x: number): number => Math.round(x * 100) / 100;
  return { n: sorted.length, p50: r(at(50)), p99: r(at(99)), max: r(at(100)) };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU time (user + system) a process has used so far, in ms; 0 once it is gone. */
export function cpuMs(pid: number): number {
  const fields = procStat(pid);
  return fields ? ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND : 0;
}

/** CPU time the whole machine has spent busy (all cores, everything but idle and iowait), in ms. */
function machineBusyMs(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const idle = ticks[3] + ticks[4];
  return ((ticks.slice(0, 8).reduce((a, b) => a + b, 0) - idle) * 1000) / TICKS_PER_SECOND;
}

/** CPU time used by each group of processes over an interval, and by the rest of the machine (`otherLoad`). */
export interface CpuUse {
  elapsedMs: number;
  ms: Record<string, number>;
}

/** Starts watching groups of processes; `stop()` says how much CPU each used meanwhile. */
export function cpuClock(pids: Record<string, number[]>): { stop(): CpuUse } {
  const total = (list: number[]): number => list.reduce((sum, pid) => sum + cpuMs(pid), 0);
  const start = Object.fromEntries(Object.entries(pids).map(([k, list]) => [k, total(list)]));
  const machine0 = machineBusyMs();
  const t0 = nowMs();
  return {
    stop: () => {
      const ms = Object.fromEntries(Object.entries(pids).map(([k, list]) => [k, total(list) - start[k]]));
      const ours = Object.values(ms).reduce((a, b) => a + b, 0);
      ms.otherLoad = Math.max(0, machineBusyMs() - machine0 - ours);
      return { elapsedMs: Math.round(nowMs() - t0), ms };
    },
  };
}

/** CPU use as a percentage of one core (100 = one core busy the whole time). */
export function cpuPercent(use: CpuUse): Record<string, number> {
  return Object.fromEntries(Object.entries(use.ms).map(([k, v]) => [k, Math.round((v / use.elapsedMs) * 100)]));
}

/** Like cpuClock, but `stop()` gives each group's (and `otherLoad`'s) use as a percentage of one core. */
export function cpuMeter(pids: Record<string, number[]>): { stop(): Record<string, number> } {
  const clock = cpuClock(pids);
  return { stop: () => cpuPercent(clock.stop()) };
}

/** CPU microseconds each group spent per unit of work (a post, a delivery, a call); other load left out. */
export function cpuPerUnit(use: CpuUse, units: number): Record<string, number> {
  const { otherLoad: _, ...ours } = use.ms;
  return Object.fromEntries(Object.entries(ours).map(([k, v]) => [k, Math.round((v * 1000) / Math.max(units, 1))]));
}

/** Peak (VmHWM) and current (VmRSS) resident memory of a process, in MB. */
export function residentMb(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  const mb = (x: number): number => Math.round((x / 1024) * 10) / 10;
  return { peak: mb(kb('VmHWM')), now: mb(kb('VmRSS')) };
}
