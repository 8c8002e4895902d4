/**
 * What every child of a machine's primary (its workers and its replicator) shares:
 * a journal over the machine's room files that exits on a storage fault (the
 * primary re-forks the child, which reloads from the files), and a graceful stop.
 * The machine's first checkpoint is built by a one-shot `fbs build-checkpoint`
 * process that one child spawns and waits for.
 */
import { spawn } from 'node:child_process';
import type * as grpc from '@grpc/grpc-js';
import type { ClusterConfig } from '../common/config';
import { EXIT_FATAL_STORAGE, EXIT_REBUILD_INDEX } from '../common/exit-codes';
import { errorMessage, type Logger } from '../common/log';
import { DEFAULT_JOURNAL_OPTIONS, IndexDropped, Journal } from '../storage/journal';
import { RoomFiles } from '../storage/room-files';
import { machineDirOf } from '../storage/data-dir';
import { provedBy } from '../storage/room-keys';
import { proofTrust } from '../common/name-trust';
import { serverCommandLine } from '../common/fbs-command-line';

/**
 * The machine's journal; `origin` names this writer, given the machine's data dir.
 * With `fbsCommand` (how to run fbs), a first checkpoint is built in a one-shot process.
 */
export function openMachineJournal(
  config: ClusterConfig,
  machine: string,
  log: Logger,
  origin: (machineDir: string) => string,
  fbsCommand?: string[],
  handleShare?: number,
): Journal {
  const die = (err: Error): never => {
    log.error('fatal storage error; restarting', { error: errorMessage(err) });
    process.exit(err instanceof IndexDropped ? EXIT_REBUILD_INDEX : EXIT_FATAL_STORAGE);
  };
  const machineDir = machineDirOf(config.dataDir, machine);
  const { lockStaleMs, walSegmentBytes } = config.storage;
  const files = new RoomFiles({ machineDir, log, lockStaleMs, onCompromised: die, handleShare, walSegmentBytes });
  const { cachedRooms, tailPosts } = config.storage;
  const buildElsewhere = fbsCommand && ((): Promise<void> => buildInOneShot(config, machine, log, fbsCommand));
  const proved = provedBy(proofTrust(config));
  return new Journal(files, origin(machineDir), log, undefined, die, { ...DEFAULT_JOURNAL_OPTIONS, cachedRooms, tailPosts, buildElsewhere, proved });
}

/** Runs `fbs build-checkpoint` for the machine and waits for it to end (it ends with us: see buildMachineCheckpoint). */
function buildInOneShot(config: ClusterConfig, machine: string, log: Logger, fbsCommand: string[]): Promise<void> {
  const { cmd, args } = serverCommandLine(fbsCommand, { verb: 'build-checkpoint', machine, config: config.file });
  const started = Date.now();
  log.info('building the first checkpoint in a one-shot process');
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('error', (err) => {
      log.warn('could not start the checkpoint builder; building here', { error: err.message });
      resolve();
    });
    child.on('exit', (code, signal) => {
      const fields = { builderPid: child.pid, code, signal, ms: Date.now() - started };
      if (code === 0) log.info('the checkpoint builder is done', fields);
      else log.warn('the checkpoint builder failed; building here', fields);
      resolve();
    });
  });
}

/**
 * The one-shot builder: the machine's index and checkpoint from its room files.
 * Its parent holds the checkpoint lock meanwhile; if the parent dies, the IPC
 * channel closes and the builder exits too, so nothing outlives the tree.
 */
export async function buildMachineCheckpoint(config: ClusterConfig, machine: string, log: Logger): Promise<void> {
  process.on('disconnect', () => {
    log.warn('the process that started the checkpoint build is gone; stopping');
    process.exit(1);
  });
  log.info('building checkpoint');
  const journal = openMachineJournal(config, machine, log, () => `${machine}.builder`);
  await journal.build();
  process.exit(0); // nothing else to do: its files and handles go with it
}

/**
 * On SIGTERM (the primary's stop): `before()`, then let `server` finish its calls (2 s at
 * most) and exit. A child ignores SIGINT (ignoreTerminalInterrupt): Ctrl-C reaches the
 * terminal's whole process group, and the primary stops its children itself, in order.
 */
export function stopOnSignal(server: grpc.Server, before: () => void = () => undefined): void {
  const stop = (): void => {
    before();
    server.tryShutdown(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
}

/** In a primary's child, from its first line: see stopOnSignal. */
export function ignoreTerminalInterrupt(): void {
  process.on('SIGINT', () => undefined);
}
