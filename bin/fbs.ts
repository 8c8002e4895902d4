/**
 * fbs: the server command. Parses arguments and hands over to lib/.
 */
import cluster from 'node:cluster';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { writeClusterDump } from '../lib/admin/dump';
import { formatClaims, nameClaims } from '../lib/admin/claims';
import { startAll, stopMachine } from '../lib/admin/lifecycle';
import { clusterStatus, formatStatus } from '../lib/admin/status';
import { ensureTransport, initCluster } from '../lib/common/cluster-init';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfig, type ClusterConfig } from '../lib/common/config';
import { createLogger, errorMessage } from '../lib/common/log';
import { runReplicator } from '../lib/replication/replicator';
import { buildMachineCheckpoint } from '../lib/machine/machine-child';
import { ownerOnlyData } from '../lib/storage/data-dir';
import { runWorker } from '../lib/server/worker';
import { runGuardian } from '../lib/supervision/guardian';
import { guardianRole, primaryRole, startOrStandBy } from '../lib/supervision/primary-process';

const USAGE = `usage: fbs <command> [options]
  start  --machine <id>   run a machine's process tree in the foreground
  stop   --machine <id>   stop a machine's processes cleanly
  status [--json]         every process of every machine, the master and its term
  dump   --machine <id>   print a machine's events in canonical order
  claims <name> --machine <id> [--json]   every claim of a name on that machine: which machine made it, its key and proof
  start-all               run every machine of the config on this host (npm start)
  init [--force]          create the cluster's CA, each machine's certificate and a secret in tls/ beside the config
  build-checkpoint --machine <id>   (internal) a machine's first index and checkpoint, run by its tree
options: --config <file> (default: cluster.json in the repository)`;

/** How this program is run (node + script), so the processes it spawns run the same build. */
const FBS_COMMAND = [process.execPath, process.argv[1]];

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      machine: { type: 'string', short: 'm' },
      config: { type: 'string', short: 'c', default: DEFAULT_CONFIG_FILE },
      slot: { type: 'string' },
      json: { type: 'boolean' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  const config = loadConfig(values.config);
  switch (command) {
    case 'init': {
      const files = await initCluster(config, values.force);
      console.log(`wrote ${files.length} files (owner-only) in ${config.tlsDir}: ${files.map((f) => basename(f)).join(', ')}`);
      console.log('copy ca.crt, secret and <machine>.crt/.key to each machine, ca.crt (with the config) to clients; keep ca.key off the machines');
      return;
    }
    case 'start':
      return start(config, machineOf(config, values.machine));
    case 'guardian': {
      const machine = machineOf(config, values.machine);
      const slot = Number(values.slot ?? 0);
      ownerOnlyData(config.dataDir, machine);
      return runGuardian({ config, machine, slot, fbsCommand: FBS_COMMAND, log: createLogger({ machine, role: guardianRole(config, machine), slot }) });
    }
    case 'stop':
      return stopMachine(config, machineOf(config, values.machine));
    case 'status': {
      const status = await clusterStatus(config);
      process.stdout.write(values.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
      return;
    }
    case 'dump':
      await writeClusterDump(config, machineOf(config, values.machine), (text) => process.stdout.write(text));
      return;
    case 'claims': {
      const name = positionals[1];
      if (!name) throw new ConfigError(`fbs claims needs a name\n${USAGE}`);
      const claims = await nameClaims(config, machineOf(config, values.machine), name);
      process.stdout.write(values.json ? `${JSON.stringify(claims, null, 2)}\n` : formatClaims(name, claims));
      return;
    }
    case 'start-all':
      return startAll(await ensureTransport(config, Object.keys(config.machines)), FBS_COMMAND);
    case 'build-checkpoint': {
      const machine = machineOf(config, values.machine);
      ownerOnlyData(config.dataDir, machine);
      return buildMachineCheckpoint(config, machine, createLogger({ machine, role: 'checkpoint-builder' }));
    }
    default:
      throw new ConfigError(`unknown command '${command}'\n${USAGE}`);
  }
}

function machineOf(config: ClusterConfig, machine: string | undefined): string {
  const id = machine ?? process.env.FBS_MACHINE;
  if (!id) throw new ConfigError('--machine is required');
  if (!config.machines[id]) throw new ConfigError(`unknown machine '${id}' (config has ${Object.keys(config.machines).join(', ')})`);
  return id;
}

async function start(config: ClusterConfig, machine: string): Promise<void> {
  process.env.FBS_MACHINE = machine;
  ownerOnlyData(config.dataDir, machine);
  if (cluster.isWorker && process.env.FBS_ROLE === 'replicator') {
    await runReplicator({ config, machine, log: createLogger({ machine, role: 'replicator' }), fbsCommand: FBS_COMMAND });
    return;
  }
  if (cluster.isWorker) {
    const slot = Number(process.env.FBS_SLOT ?? 0);
    await runWorker({ config, machine, slot, log: createLogger({ machine, role: 'worker', slot }), fbsCommand: FBS_COMMAND });
    return;
  }
  config = await ensureTransport(config, [machine]);
  const log = createLogger({ machine, role: primaryRole(config, machine) });
  const primary = await startOrStandBy({ config, machine, log, fbsCommand: FBS_COMMAND });
  if (!primary) {
    log.info('the machine was stopped; not taking over');
    return;
  }
  const shutdown = (signal: string): void => {
    log.info('stopping', { signal });
    primary.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(`fbs: ${err instanceof ConfigError ? err.message : errorMessage(err)}`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
