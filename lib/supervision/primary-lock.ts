/**
 * The machine's primary lock (proper-lockfile, on the lock clock): with the admin
 * port and the term in primary.json, it fences primaries; losing it steps one down.
 */
import { rmSync } from 'node:fs';
import lockfile from 'proper-lockfile';
import { isDiskFault } from '../core/disk-fault';
import { clockOffsetMs, lockFs } from '../storage/lock-clock';
import { machinePath } from '../storage/data-dir';

export /** The machine's primary lock; one left behind by a dead primary is removed (we alone hold the admin port). */
async function takePrimaryLock(machineDir: string, stale: number, compromised: (detail: string) => void): Promise<() => Promise<void>> {
  const lockOptions = {
    fs: lockFs(clockOffsetMs(machineDir)),
    lockfilePath: machinePath(machineDir, 'primaryLock'),
    realpath: false,
    stale,
    retries: 0,
    onCompromised: (err: Error) => compromised(err.message),
  };
  try {
    return await lockfile.lock(machineDir, lockOptions);
  } catch (err) {
    if (isDiskFault(err)) throw err;
    rmSync(lockOptions.lockfilePath, { recursive: true, force: true });
    return lockfile.lock(machineDir, lockOptions);
  }
}
