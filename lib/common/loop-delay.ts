/**
 * Reports a process's event loop stalls: once a second, the longest delay a timer saw
 * (perf_hooks' histogram, sampled as often as the metrics' own), logged when it reached REPORT_FROM_MS.
 * A request that keeps a worker busy shows as one structured line, which tests read.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Logger } from './log';
import { LOOP_SAMPLE_MS } from './metrics';

const REPORT_FROM_MS = 100;
/**
 * A warning from half the default failure timeout (1 s), where a stall starts to
 * look like death to the process's watchers. Shorter ones are often the host's, not
 * ours (timers run late on a host at a load of 20): information, not alarm.
 */
const WARN_FROM_MS = 500;
const EVERY_MS = 1_000;

export function reportLoopDelay(log: Logger): { serving(): void } {
  const h = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
  h.enable();
  // While the process loads, stalls are its start-up's (and the host's): not alarms.
  let serving = false;
  let due = performance.now() + EVERY_MS;
  setInterval(() => {
    const now = performance.now();
    // After a stall this timer may run before the histogram's, and reset() clears the
    // histogram's last sample time, so the stall it had yet to record is lost: this
    // timer's own lateness measures the same stall.
    const maxMs = Math.round(Math.max(h.max / 1e6, now - due));
    due = now + EVERY_MS;
    h.reset();
    if (maxMs >= REPORT_FROM_MS) log[serving && maxMs >= WARN_FROM_MS ? 'warn' : 'info']('event loop delayed', { maxMs });
  }, EVERY_MS).unref();
  return { serving: () => void (serving = true) };
}
