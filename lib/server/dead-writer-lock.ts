/** A writer killed holding the room lock would stall the others until the lock went stale (2 s): its lock is broken at once. */
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import { isAlive } from '../common/proc-stat';
import { machineDirOf } from '../storage/data-dir';
import { breakLockOf, lockHolder } from '../storage/lock-owner';
import { roomLockPath } from '../storage/room-files';

/** Breaks the machine's room lock if its holder (`pid`: only if that one holds it) is dead. */
export function deadWriterLockBreaker(config: ClusterConfig, machine: string, log: Logger): (pid?: number) => void {
  const roomLock = roomLockPath(machineDirOf(config.dataDir, machine));
  return (pid) => {
    const holder = pid ?? lockHolder(roomLock);
    if (holder && !isAlive(holder) && breakLockOf(roomLock, holder)) log.warn('broke the room lock of a dead writer', { holderPid: holder });
  };
}
