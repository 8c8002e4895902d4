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
 */
export function ownedLockFs(base: typeof fs): typeof fs {
  return {
    ...base,
    mkdir: ((path: fs.PathLike, cb: fs.NoParamCallback) =>
      base.mkdir(path, (err) => {
        if (err) return cb(err);
        base.writeFile(join(String(path), OWNER), String(process.pid), (werr) => {
          if (!werr) return cb(null);
          base.rm(String(path), { recursive: true, force: true }, () => cb(werr)); // e.g. a full disk: not locked
        });
      })) as typeof fs.mkdir,
    rmdir: ((path: fs.PathLike, cb: fs.NoParamCallback) =>
      base.unlink(join(String(path), OWNER), () => base.rmdir(path, cb))) as typeof fs.rmdir,
    rmdirSync: ((path: fs.PathLike) => {
      base.rmSync(join(String(path), OWNER), { force: true });
      base.rmdirSync(path);
    }) as typeof fs.rmdirSync,
  };
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
