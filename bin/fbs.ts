/**
 * fbs: the server command. Parses arguments and hands over to lib/.
 */
import cluster from 'node:cluster';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfig, type ClusterConfig } from '../lib/common/config';
import { consoleMode, errorMessage, processLogger, type LogBase, type Logger } from '../lib/common/log';
import { machineDirOf, machinePath, ownerOnlyData } from '../lib/storage/data-dir';

// Each command loads only its own modules (import() below): a revived master and its
// children start on the user's time, and module loading was most of it (bench/master-kill.ts).

const USAGE = `usage: fbs <command> [options]
  start  --machine <id>   run a machine's process tree in the foreground (--log json: JSON lines on stdout in a terminal too)
  stop   --machine <id>   stop a machine's processes cleanly
  status [--json] [--watch]  every process of every machine, the master and its term (exits 3 when none answers)
  console [--port N]      a live page of the cluster in a browser (default port 50250, loopback)
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
      watch: { type: 'boolean', short: 'w' },
      port: { type: 'string', short: 'p' },
      force: { type: 'boolean' },
      log: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  if (values.log !== undefined) {
    if (values.log !== 'json' && values.log !== 'pretty') throw new ConfigError(`--log takes json or pretty, not '${values.log}'`);
    process.env.FBS_LOG = values.log; // the machine's processes inherit it
  }
  const config = loadConfig(values.config);
  switch (command) {
    case 'init': {
      const { initCluster } = await import('../lib/common/cluster-init');
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
      const [{ runGuardian }, { guardianRole }] = await Promise.all([import('../lib/supervision/guardian'), import('../lib/supervision/roles')]);
      return runGuardian({ config, machine, slot, fbsCommand: FBS_COMMAND, log: logFor(config, { machine, role: guardianRole(config, machine), slot }) });
    }
    case 'stop': {
      const { stopMachine } = await import('../lib/admin/lifecycle');
      return stopMachine(config, machineOf(config, values.machine));
    }
    case 'status': {
      const { statusCommand } = await import('../lib/admin/status-command');
      const write = (stream: NodeJS.WriteStream) => (text: string) => void stream.write(text);
      process.exitCode = await statusCommand(config, { json: !!values.json, watch: !!values.watch, out: write(process.stdout), err: write(process.stderr) });
      return;
    }
    case 'console': {
      const { consoleCommand, DEFAULT_CONSOLE_PORT } = await import('../lib/admin/console');
      return consoleCommand(config, portOf(values.port, DEFAULT_CONSOLE_PORT), (text) => void process.stdout.write(text));
    }
    case 'dump': {
      const { writeClusterDump } = await import('../lib/admin/dump');
      await writeClusterDump(config, machineOf(config, values.machine), (text) => process.stdout.write(text));
      return;
    }
    case 'claims': {
      const name = positionals[1];
      if (!name) throw new ConfigError(`fbs claims needs a name\n${USAGE}`);
      const { formatClaims, nameClaims } = await import('../lib/admin/claims');
      const claims = await nameClaims(config, machineOf(config, values.machine), name);
      process.stdout.write(values.json ? `${JSON.stringify(claims, null, 2)}\n` : formatClaims(name, claims));
      return;
    }
    case 'start-all': {
      const [{ ensureTransport }, { startAll }] = await Promise.all([import('../lib/common/cluster-init'), import('../lib/admin/lifecycle')]);
      const summary = consoleMode() === 'pretty';
      const ready = await ensureTransport(config, Object.keys(config.machines), summary ? say : undefined);
      return startAll(ready, FBS_COMMAND, { summary, say });
    }
    case 'build-checkpoint': {
      const machine = machineOf(config, values.machine);
      ownerOnlyData(config.dataDir, machine);
      const { buildMachineCheckpoint } = await import('../lib/machine/machine-child');
      return buildMachineCheckpoint(config, machine, logFor(config, { machine, role: 'checkpoint-builder' }));
    }
    default:
      throw new ConfigError(`unknown command '${command}'\n${USAGE}`);
  }
}

function portOf(port: string | undefined, fallback: number): number {
  if (port === undefined) return fallback;
  const n = Number(port);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ConfigError(`--port takes a port number, not '${port}'`);
  return n;
}

function machineOf(config: ClusterConfig, machine: string | undefined): string {
  const id = machine ?? process.env.FBS_MACHINE;
  if (!id) throw new ConfigError('--machine is required');
  if (!config.machines[id]) throw new ConfigError(`unknown machine '${id}' (config has ${Object.keys(config.machines).join(', ')})`);
  return id;
}

/** A server process's logger: its file in data/<machine>/logs/, and the terminal. */
function logFor(config: ClusterConfig, base: LogBase): Logger {
  return processLogger(base, machinePath(machineDirOf(config.dataDir, base.machine), 'logs'));
}

/** A line for the person at the terminal. */
function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function start(config: ClusterConfig, machine: string): Promise<void> {
  process.env.FBS_MACHINE = machine;
  if (cluster.isWorker) (await import('../lib/machine/machine-child')).ignoreTerminalInterrupt();
  ownerOnlyData(config.dataDir, machine);
  if (cluster.isWorker && process.env.FBS_ROLE === 'replicator') {
    const { runReplicator } = await import('../lib/replication/replicator');
    await runReplicator({ config, machine, log: logFor(config, { machine, role: 'replicator' }), fbsCommand: FBS_COMMAND });
    return;
  }
  if (cluster.isWorker) {
    const { runWorker } = await import('../lib/server/worker');
    const slot = Number(process.env.FBS_SLOT ?? 0);
    const warm = process.env.FBS_WARM === '1';
    await runWorker({ config, machine, slot, log: logFor(config, { machine, role: 'worker', slot }), fbsCommand: FBS_COMMAND, warm });
    return;
  }
  // The summary is for whoever typed the command: not under npm start (it says it for all), not a guardian's revival.
  const summary = consoleMode() === 'pretty' && process.env.FBS_SUMMARY !== '0' && process.env.FBS_TERM === undefined;
  const [{ ensureTransport }, { primaryRole }, { startOrStandBy }] = await Promise.all([
    import('../lib/common/cluster-init'),
    import('../lib/supervision/roles'),
    import('../lib/supervision/primary-process'),
  ]);
  config = await ensureTransport(config, [machine], summary ? say : undefined);
  const log = logFor(config, { machine, role: primaryRole(config, machine) });
  const primary = await startOrStandBy({ config, machine, log, fbsCommand: FBS_COMMAND });
  if (!primary) {
    log.info('the machine was stopped; not taking over');
    return;
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return; // a second signal (Ctrl-C twice, or the terminal's and a stop's) changes nothing
    stopping = true;
    log.info('stopping', { signal });
    primary.stop().then(() => {
      if (summary) say(`stopped ${machine}`);
      process.exit(0);
    });
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => shutdown(signal));
  if (summary) await (await import('../lib/admin/start-summary')).announceReady(config, [machine], say, () => stopping);
}

main().catch((err: unknown) => {
  console.error(`fbs: ${err instanceof ConfigError ? err.message : errorMessage(err)}`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
