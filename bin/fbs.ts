/**
 * fbs: the server command. `start --machine mN` runs that machine's process tree
 * in the foreground; `dump --machine mN` prints its data canonically.
 */
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { dumpMachine } from '../lib/admin/dump';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfig, type ClusterConfig } from '../lib/common/config';
import { createLogger, errorMessage } from '../lib/common/log';
import { runPrimary } from '../lib/server/primary';
import { runWorker } from '../lib/server/worker';

const USAGE = `usage: fbs <command> [options]
  start --machine <id> [--config cluster.json]   run a machine's server processes (foreground)
  dump  --machine <id> [--config cluster.json]   print a machine's events in canonical order`;

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      machine: { type: 'string', short: 'm' },
      config: { type: 'string', short: 'c', default: DEFAULT_CONFIG_FILE },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  const config = loadConfig(values.config);
  const machine = machineOf(config, values.machine);
  switch (command) {
    case 'start':
      return start(config, machine);
    case 'dump':
      process.stdout.write(await dumpMachine(config.dataDir, machine));
      return;
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
  if (cluster.isWorker) {
    const slot = Number(process.env.FBS_SLOT ?? 0);
    await runWorker({ config, machine, slot, log: createLogger({ machine, role: 'worker', slot }) });
    return;
  }
  const log = createLogger({ machine, role: 'primary' });
  const primary = runPrimary({ config, machine, log });
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
