/**
 * Reports a process's event loop stalls: once a second, the longest delay a timer saw
 * (perf_hooks' histogram, sampled every 10 ms), logged when it reached REPORT_FROM_MS.
 * A request that keeps a worker busy shows as one structured line, which tests read.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger } from './log';

const REPORT_FROM_MS = 100;
const EVERY_MS = 1_000;

export function reportLoopDelay(log: Logger): void {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  setInterval(() => {
    const maxMs = Math.round(h.max / 1e6);
    h.reset();
    if (maxMs >= REPORT_FROM_MS) log.warn('event loop delayed', { maxMs });
  }, EVERY_MS).unref();
}
