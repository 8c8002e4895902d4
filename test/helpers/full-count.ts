/**
 * A cluster back at full count: each role's processes up, as `fbs status` counts them
 * (benches and tests). A wait that times out says what was missing at its last look, so
 * a run that fails on a loaded host names the process that did not come back.
 */
import { clusterStatus, type ClusterStatus } from '../../lib/admin/status';
import type { ClusterConfig } from '../../lib/common/config';
import { waitFor } from './wait';

/** Processes up per `machine/role`. */
export function census(s: ClusterStatus): Record<string, number> {
  const n: Record<string, number> = {};
  for (const p of s.processes) if (p.state === 'up') n[`${p.machine}/${p.role}`] = (n[`${p.machine}/${p.role}`] ?? 0) + 1;
  return n;
}

/** Every process up, and every role of `expected` (when given) at its count. */
export function atCount(s: ClusterStatus, expected: Record<string, number> | null): boolean {
  const c = census(s);
  return s.processes.length > 0 && s.processes.every((p) => p.state === 'up') && (expected === null || Object.entries(expected).every(([k, n]) => c[k] === n));
}

/** Waits until `full` holds of the cluster's status; on timeout, the error names what was not up at the last look. */
export async function waitForFull(config: ClusterConfig, full: (s: ClusterStatus) => boolean, timeoutMs: number, intervalMs: number): Promise<ClusterStatus> {
  let last: ClusterStatus | null = null;
  return waitFor('the cluster at full count', async () => {
    last = await clusterStatus(config);
    return full(last) ? last : null;
  }, timeoutMs, intervalMs).catch((err: Error) => {
    throw new Error(`${err.message}; at the last look ${last === null ? 'no status' : describeStatus(last)}`);
  });
}

/** The master, the census and each process not up: what a timeout reports. */
export function describeStatus(s: ClusterStatus): string {
  const notUp = s.processes.filter((p) => p.state !== 'up').map((p) => `${p.machine}/${p.role}${p.slot === null ? '' : `#${p.slot}`} pid ${p.pid} ${p.state}`);
  return `master ${s.master?.pid ?? 'none'} term ${s.master?.term ?? '-'}, up ${JSON.stringify(census(s))}, not up: ${notUp.join(', ') || 'none'}`;
}
