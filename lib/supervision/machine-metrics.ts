/**
 * A machine's /metrics, served by its primary: the children's metrics summed with
 * the primary's own (the master's term, elections, restarts by role from the
 * restart ledger, so they carry across primaries).
 */
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import { collectProcessMetrics, machineMetrics, metrics, refreshOnCollect, setCounter } from '../common/metrics';
import { serveMetrics, type MetricsEndpoint } from '../common/metrics-endpoint';
import type { Primary } from '../server/primary';
import type { RestartLedger } from '../storage/restart-ledger';
import { guardianRole } from './roles';

export interface MachineSelf {
  config: ClusterConfig;
  machine: string;
  role: 'master' | 'supervisor';
  term: number;
  /** This primary's predecessors that died (its own restarts). */
  restarts: number;
}

export function serveMachineMetrics(self: MachineSelf, primary: Primary, ledger: RestartLedger, log: Logger): Promise<MetricsEndpoint> {
  const { config, machine, role, term } = self;
  const guardians = guardianRole(config, machine);
  collectProcessMetrics();
  refreshOnCollect(() => {
    metrics.masterTerm.set(role === 'master' ? term : 0);
    setCounter(metrics.elections, ledger.elections);
    const byRole: Record<string, number> = { [role]: self.restarts };
    for (const [slotRole, n] of Object.entries(ledger.byRole())) {
      const named = slotRole === 'guardian' ? guardians : slotRole; // the contract's name on this machine
      byRole[named] = (byRole[named] ?? 0) + n;
    }
    for (const [r, n] of Object.entries(byRole)) setCounter(metrics.restarts, n, { role: r });
  });
  return serveMetrics(config, machine, async () => machineMetrics(await primary.childMetrics()), log);
}
