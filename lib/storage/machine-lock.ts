/**
 * The machine's room lock (proper-lockfile), held as a lease. A writer takes it
 * when it first has something to commit and keeps it across its commits while
 * more keep coming (proper-lockfile's own `update` renews it, every stale/2), so
 * a busy writer pays the lock's mkdir, pid file, stat, rm and rmdir once per busy
 * spell instead of once per commit. It lets go when it has nothing left to commit,
 * or, after a turn of TURN_MS, when another writer of the machine asked for it:
 * a waiter marks its wish in a file beside the lock, which the holder looks at
 * (one stat) after each commit. Mutual exclusion is proper-lockfile's (an atomic
 * mkdir); inside one process, sections under the lock run one at a time.
 */
import * as fs from 'node:fs';
import lockfile from 'proper-lockfile';
import { clockOffsetMs, lockFs } from './lock-clock';
import { ownedLockFs } from './lock-owner';

/**
 * The least time a holder keeps the lease once another writer asked for it. Each
 * handover costs both writers the lock's file operations; a turn lets the waiter's
 * batch grow meanwhile, so one handover serves more posts.
 */
export const TURN_MS = 4;
/** A waiter looks again after this long at first, then backs off up to WAIT_MAX_MS (each look is a mkdir and a stat). */
const WAIT_MIN_MS = 1;
const WAIT_MAX_MS = 4;
/** A writer that handed the lock over lets the asker take it first, waiting at most this long for it to. */
const HANDOVER_MS = 50;

export interface MachineLockOptions {
  /** The directory the lock guards (proper-lockfile's `file`). */
  dir: string;
  /** The lock directory itself. */
  lockPath: string;
  /** Where a waiting writer marks that it wants the lock. */
  wantedPath: string;
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
  private release: (() => Promise<void>) | null = null;
  private heldSince = 0;
  /** When this process last handed the lock over to a writer that asked (0: it did not). */
  private yieldedAt = 0;
  /** The section running under the lock in this process, and those queued behind it. */
  private tail: Promise<unknown> = Promise.resolve();
  private lockFs?: typeof fs;

  constructor(private readonly o: MachineLockOptions) {}

  /** Whether this process holds the lock now. */
  get held(): boolean {
    return this.release !== null;
  }

  /**
   * Runs `section` holding the lock, after the sections queued before it in this
   * process. `section` learns whether the lock was taken for it (`fresh`: another
   * writer may have written since this process last held it) or its lease went on.
   * With `keep`, the lease outlives the section unless another writer asked for it
   * and our turn is over; without, the lock is let go after it.
   */
  run<T>(section: (fresh: boolean) => Promise<T>, keep = false): Promise<T> {
    const result = this.tail.then(async () => {
      const fresh = !this.held;
      if (fresh) await this.take();
      try {
        return await section(fresh);
      } finally {
        if (!keep) await this.letGoNow();
        else if (this.askedFor()) {
          await this.letGoNow();
          this.yieldedAt = Date.now();
        }
      }
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Lets the lease go once the sections queued before now have run (a writer with nothing left to commit). */
  letGo(): Promise<void> {
    const done = this.tail.then(() => this.letGoNow());
    this.tail = done.catch(() => undefined);
    return done;
  }

  /** Another writer asked for the lock and we have held it for a turn. */
  private askedFor(): boolean {
    return Date.now() - this.heldSince >= TURN_MS && fs.existsSync(this.o.wantedPath);
  }

  private async take(): Promise<void> {
    const deadline = Date.now() + this.o.waitMs;
    for (let wait = WAIT_MIN_MS; ; wait = Math.min(WAIT_MAX_MS, wait * 2)) {
      if (!this.owesTurn()) {
        const release = await this.tryLock();
        if (release) {
          this.release = release;
          this.heldSince = Date.now();
          this.yieldedAt = 0;
          fs.rmSync(this.o.wantedPath, { force: true }); // our wish (or another's, which it marks again) is granted
          return;
        }
      }
      if (Date.now() >= deadline) throw Object.assign(new Error(`the room lock stayed taken for ${this.o.waitMs} ms`), { code: 'ELOCKED' });
      fs.closeSync(fs.openSync(this.o.wantedPath, 'a'));
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** proper-lockfile's lock, taken now if no other writer holds it (a stale one is taken over); null if one does. */
  private async tryLock(): Promise<(() => Promise<void>) | null> {
    this.lockFs ??= ownedLockFs(lockFs(clockOffsetMs(this.o.clockDir)));
    try {
      return await lockfile.lock(this.o.dir, {
        fs: this.lockFs,
        lockfilePath: this.o.lockPath,
        realpath: false,
        stale: this.o.staleMs,
        update: Math.floor(this.o.staleMs / 2),
        retries: 0,
        onCompromised: (err) => {
          this.release = null; // nothing left to release
          this.o.onCompromised(err);
        },
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOCKED') return null;
      throw err;
    }
  }

  /**
   * We let the lock go because another writer asked, and it has not taken it yet
   * (its mark is still there): taking it back at once would starve it, as it only
   * looks every few ms. A mark left by a writer that died waiting is ignored after HANDOVER_MS.
   */
  private owesTurn(): boolean {
    return this.yieldedAt > 0 && Date.now() - this.yieldedAt < HANDOVER_MS && fs.existsSync(this.o.wantedPath);
  }

  private async letGoNow(): Promise<void> {
    const release = this.release;
    if (release === null) return;
    this.release = null;
    await release().catch((err: Error) => {
      if ((err as NodeJS.ErrnoException).code !== 'ERELEASED') throw err; // a lost lock has nothing left to release
    });
  }
}
