/**
 * What every child of a machine's primary (its workers and its replicator) shares:
 * a journal over the machine's room files that exits on a storage fault (the
 * primary re-forks the child, which reloads from the files), and a graceful stop.
 */
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { ClusterConfig } from '../common/config';
import { errorMessage, type Logger } from '../common/log';
import { DEFAULT_JOURNAL_OPTIONS, Journal } from '../storage/journal';
import { RoomFiles } from '../storage/room-files';

/** The machine's journal; `origin` names this writer, given the machine's data dir. */
export function openMachineJournal(config: ClusterConfig, machine: string, log: Logger, origin: (machineDir: string) => string): Journal {
  const die = (err: Error): never => {
    log.error('fatal storage error; restarting', { error: errorMessage(err) });
    process.exit(70);
  };
  const machineDir = join(config.dataDir, machine);
  const files = new RoomFiles({ machineDir, log, lockStaleMs: config.storage.lockStaleMs, onCompromised: die });
  const { cachedRooms, tailPosts } = config.storage;
  return new Journal(files, origin(machineDir), log, undefined, die, { ...DEFAULT_JOURNAL_OPTIONS, cachedRooms, tailPosts });
}

/** On SIGTERM or SIGINT: `before()`, then let `server` finish its calls (2 s at most) and exit. */
export function stopOnSignal(server: grpc.Server, before: () => void = () => undefined): void {
  const stop = (): void => {
    before();
    server.tryShutdown(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
