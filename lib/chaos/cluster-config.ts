/** A cluster.json for a cluster started on the fly (tests, the chaos run): every machine on free ports. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initCluster } from '../common/cluster-init';
import { loadConfig } from '../common/config';
import { freePort, freePortRun } from './ports';

export interface OnTheFlyCluster {
  machines: string[];
  /** Each machine's address (loopback, or its network namespace's). */
  host: (machine: string) => string;
  guardians: number;
  workers: number;
  secret: string;
  /** Further keys (limits, timing, storage). */
  extra?: Record<string, unknown>;
}

/**
 * Writes `dir`/cluster.json (data under `dir`/data, the first machine the master) and,
 * unless `extra` turns TLS off, runs `fbs init` for it (its hosts may be a lab's
 * addresses, which a start would not init by itself); returns the config's path.
 */
export async function writeClusterConfig(dir: string, c: OnTheFlyCluster): Promise<string> {
  const machines: Record<string, object> = {};
  for (const m of c.machines) {
    machines[m] = { host: c.host(m), port: await freePort(), peerPort: await freePort(), metricsPort: await freePort(), adminPort: await freePortRun(1 + c.guardians) };
  }
  const file = join(dir, 'cluster.json');
  writeFileSync(
    file,
    JSON.stringify({
      machines,
      master: c.machines[0],
      guardians: c.guardians,
      workers: c.workers,
      dataDir: join(dir, 'data'),
      secret: c.secret,
      ...c.extra,
    }),
  );
  if (c.extra?.tls !== false) await initCluster(loadConfig(file));
  return file;
}
