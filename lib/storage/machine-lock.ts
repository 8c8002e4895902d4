/**
 * The machine's room lock (proper-lockfile): one writer of the machine appends at
 * a time. It is taken for each commit and let go after it. A waiter watches the
 * lock's directory (inotify) and tries again the moment the holder lets go, with a
 * slow look now and then in case a change went unseen, instead of proper-lockfile's
 * own retries with backoff. Mutual exclusion is proper-lockfile's (an atomic mkdir);
 * inside one process, sections under the lock run one at a time.
 *
 * Not a lease kept across commits: with two busy workers the lease changed hands
 * at nearly every commit, and the hand-over (the holder waiting for the asker to
 * notice) cut durable posts/s to a quarter (bench/RESULTS.md, chat).
 */
import * as fs from 'node:fs';
import { basename, dirname } from 'node:path';
import lockfile from 'proper-lockfile';
import { clockOffsetMs, lockFs } from './lock-clock';
import { ownedLockFs } from './lock-owner';

/** A waiter that watches the lock looks again at least this often anyway; one that cannot watch, every WAIT_MIN_MS. */
const WAIT_MAX_MS = 20;
const WAIT_MIN_MS = 2;

export interface MachineLockOptions {
  /** The directory the lock guards (proper-lockfile's `file`). */
  dir: string;
  /** The lock directory itself. */
  lockPath: string;
  /** A lock not renewed for this long is stale: another writer may take it over. */
  staleMs: number;
  /** A writer waits at most this long before it gives up (ELOCKED). */
  waitMs: number;
  /** The lock was lost while held (e.g. this process was paused past `staleMs`). */
  onCompromised: (err: Error) => void;
  /** Where lock-clock probes the kernel's clock. */
  clockDir: string;
}

export class MachineLock {
  /** The section running under the lock in this process, and those queued behind it. */
  private tail: Promise<unknown> = Promise.resolve();
  private lockFs?: typeof fs;

  constructor(private readonly o: MachineLockOptions) {}

  /** Runs `section` holding the lock, after the sections queued before it in this process. */
  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.tail.then(async () => {
      const release = await this.take();
      try {
        return await section();
      } finally {
        await release();
      }
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Takes the lock, waiting while another writer holds it; returns its release. */
  private async take(): Promise<() => Promise<void>> {
    const deadline = Date.now() + this.o.waitMs;
    let wake: () => void = () => undefined;
    let watcher: fs.FSWatcher | null | undefined;
    try {
      for (;;) {
        const release = await this.tryLock();
        if (release) return release;
        if (Date.now() >= deadline) throw Object.assign(new Error(`the room lock stayed taken for ${this.o.waitMs} ms`), { code: 'ELOCKED' });
        if (watcher === undefined) {
          watcher = this.watch(() => wake()); // then look once more: the holder may have let go meanwhile
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, watcher === null ? WAIT_MIN_MS : WAIT_MAX_MS);
        });
      }
    } finally {
      watcher?.close();
    }
  }

  /** Calls `changed` when the lock comes or goes; null if its directory cannot be watched (then we poll). */
  private watch(changed: () => void): fs.FSWatcher | null {
    const name = basename(this.o.lockPath);
    try {
      return fs.watch(dirname(this.o.lockPath), { persistent: false }, (_event, changedName) => {
        if (changedName === null || String(changedName) === name) changed();
      });
    } catch {
      return null;
    }
  }

  /**
   * proper-lockfile's lock, taken now if no other writer holds it (a stale one is
   * taken over); null if one does. Its release tolerates a lock already lost.
   */
  private async tryLock(): Promise<(() => Promise<void>) | null> {
    this.lockFs ??= ownedLockFs(lockFs(clockOffsetMs(this.o.clockDir)));
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(this.o.dir, {
        fs: this.lockFs,
        lockfilePath: this.o.lockPath,
        realpath: false,
        stale: this.o.staleMs,
        update: Math.floor(this.o.staleMs / 2),
        retries: 0,
        onCompromised: (err) => this.o.onCompromised(err),
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOCKED') return null;
      throw err;
    }
    return () =>
      release().catch((err: Error) => {
        if ((err as NodeJS.ErrnoException).code !== 'ERELEASED') throw err; // a lost lock has nothing left to release
      });
  }
}
