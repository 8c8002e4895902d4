/**
 * Who holds a proper-lockfile lock. proper-lockfile knows a lock is abandoned
 * only by its age (stale >= 2 s), so a writer SIGKILLed while holding the
 * machine's room lock would stall every other writer for 2 s. So the holder
 * records its pid inside the lock directory, and the machine's primary, which
 * sees its children die, breaks a lock whose holder is dead at once. Only the
 * primary breaks locks this way: two contenders that each "took over" one dead
 * lock could remove each other's fresh lock.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';

const OWNER = 'pid';

/**
 * Wraps the `fs` given to proper-lockfile: creating the lock directory also
 * writes our pid into it (before proper-lockfile first stamps its mtime, so the
 * stamp stays the lock's own), and removing it removes the pid file first.
 * Each pair of steps is synchronous, one right after the other: a worker exits the
 * moment its primary dies, and an exit between two async steps left a lock that
 * named nobody, which could only go stale (6 primary kills in 12).
 */
export function ownedLockFs(base: typeof fs): typeof fs {
  return {
    ...base,
    mkdir: ((path: fs.PathLike, cb: fs.NoParamCallback) => {
      try {
        base.mkdirSync(path);
      } catch (err) {
        return process.nextTick(cb, err as NodeJS.ErrnoException);
      }
      try {
        base.writeFileSync(join(String(path), OWNER), String(process.pid));
      } catch (err) {
        base.rmSync(path, { recursive: true, force: true }); // e.g. a full disk: not locked
        return process.nextTick(cb, err as NodeJS.ErrnoException);
      }
      process.nextTick(cb, null);
    }) as typeof fs.mkdir,
    rmdir: ((path: fs.PathLike, cb: fs.NoParamCallback) => {
      try {
        removeOwned(base, path);
      } catch (err) {
        return process.nextTick(cb, err as NodeJS.ErrnoException);
      }
      process.nextTick(cb, null);
    }) as typeof fs.rmdir,
    rmdirSync: ((path: fs.PathLike) => removeOwned(base, path)) as typeof fs.rmdirSync,
  };
}

function removeOwned(base: typeof fs, path: fs.PathLike): void {
  base.rmSync(join(String(path), OWNER), { force: true });
  base.rmdirSync(path);
}

/** The pid recorded in the lock at `lockPath`, or null (no lock, or its holder had not recorded itself yet). */
export function lockHolder(lockPath: string): number | null {
  try {
    const pid = Number(fs.readFileSync(join(lockPath, OWNER), 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Removes the lock at `lockPath` if its recorded holder is `pid` (the caller knows
 * that process is dead). Returns whether it did.
 */
export function breakLockOf(lockPath: string, pid: number): boolean {
  if (lockHolder(lockPath) !== pid) return false;
  fs.rmSync(lockPath, { recursive: true, force: true });
  return true;
}
