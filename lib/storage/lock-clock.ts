/**
 * proper-lockfile judges a lock stale by comparing its mtime (written by the
 * kernel's clock) with Date.now() (this process's clock). When the two differ — a
 * machine run under faketime, a clock stepped by NTP — a dead writer's lock looks
 * fresh for hours, or a live one stale at once. This file system adapter
 * translates lock mtimes into the process's clock and back, so staleness is
 * measured on one clock.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';

/** Differences under this are noise of the probe, not a skewed clock. */
const NOISE_MS = 1_000;

/** Process clock minus kernel clock, in ms, measured by writing a file in `dir`. */
export function clockOffsetMs(dir: string): number {
  const probe = join(dir, `.clock-probe-${process.pid}`);
  fs.writeFileSync(probe, '');
  const offset = Date.now() - fs.statSync(probe).mtimeMs;
  fs.rmSync(probe, { force: true });
  return Math.abs(offset) < NOISE_MS ? 0 : Math.round(offset);
}

type StatCallback = (err: NodeJS.ErrnoException | null, stats: fs.Stats) => void;

/** The `fs` to give proper-lockfile (its `fs` option). */
export function lockFs(offsetMs: number): typeof fs {
  if (offsetMs === 0) return fs;
  return {
    ...fs,
    stat: ((path: fs.PathLike, cb: StatCallback) =>
      fs.stat(path, (err, st) => {
        if (st) st.mtime = new Date(Math.round(st.mtimeMs + offsetMs)); // rounded, as node's own Stats are
        cb(err, st);
      })) as typeof fs.stat,
    utimes: ((path: fs.PathLike, atime: Date, mtime: Date, cb: fs.NoParamCallback) =>
      fs.utimes(path, new Date(atime.getTime() - offsetMs), new Date(mtime.getTime() - offsetMs), cb)) as typeof fs.utimes,
  };
}
