/**
 * The machine's room lock (proper-lockfile), held as a lease. A writer takes it
 * when it first has something to commit and keeps it across its commits while
 * more keep coming (proper-lockfile's own `update` renews it, every stale/2), so
 * a busy writer pays the lock's mkdir, pid file, stat, rm and rmdir once per busy
 * spell instead of once per commit. It lets go once it has had nothing to commit
 * for LINGER_MS, or at once when another writer of the machine asked for it: a
 * waiter marks its wish in a file beside the lock, which the holder looks at (one
 * stat) after each commit, and watches the lock's directory to try again the moment
 * the holder lets go (the holder that let go waits for it just as briefly). Mutual exclusion is proper-lockfile's (an atomic
 * mkdir); inside one process, sections under the lock run one at a time.
 *
 * Measured (profiles of a worker, 128 users posting, two workers): the lock's share
 * of a worker's busy time fell from 15-17 % to 6-9 %. With both workers busy, the
 * lock still changes hands about once per commit (each one's next batch is ready
 * when the other's ends), so the lease saves most where one writer commits alone.
 */
import * as fs from 'node:fs';
import { basename, dirname } from 'node:path';
import lockfile from 'proper-lockfile';
import { clockOffsetMs, lockFs } from './lock-clock';
import { ownedLockFs } from './lock-owner';

/** An idle holder keeps the lease this long for its next batch (see idle). */
const LINGER_MS = 3;
/** A waiter that watches the lock looks again at least this often anyway; one that cannot watch, every WAIT_MIN_MS. */
const WAIT_MAX_MS = 20;
const WAIT_MIN_MS = 2;
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
  private linger: NodeJS.Timeout | null = null;
  /** When this process last handed the lock over to a writer that asked (0: it did not). */
  private yieldedAt = 0;
  /** When the last section under the lock ended (a lease idle past staleMs/2 is not trusted). */
  private lastSectionEnd = 0;
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
   * With `keep`, the lease outlives the section unless another writer asked for it;
   * without, the lock is let go after it.
   */
  run<T>(section: (fresh: boolean) => Promise<T>, keep = false): Promise<T> {
    this.stopLingering();
    const result = this.tail.then(async () => {
      // A lease whose holder was paused for half the stale time may have been taken over meanwhile: take it afresh.
      if (this.held && Date.now() - this.lastSectionEnd > this.o.staleMs / 2) await this.letGoNow();
      const fresh = !this.held;
      if (fresh) await this.take();
      try {
        return await section(fresh);
      } finally {
        this.lastSectionEnd = Date.now();
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

  /** Lets the lease go once the sections queued before now have run. */
  letGo(): Promise<void> {
    this.stopLingering();
    const done = this.tail.then(() => this.letGoNow());
    this.tail = done.catch(() => undefined);
    return done;
  }

  /**
   * The writer has nothing left to commit: the lease is let go unless a section
   * comes within LINGER_MS. Under a steady load the next batch comes that soon (its
   * posts were sent when the last batch's acks arrived), and keeps the lease.
   */
  idle(onError: (err: Error) => void): void {
    this.stopLingering();
    if (this.askedFor()) {
      this.letGo().then(() => (this.yieldedAt = Date.now()), onError);
      return;
    }
    this.linger = setTimeout(() => {
      this.linger = null;
      this.letGo().catch(onError);
    }, LINGER_MS);
  }

  private stopLingering(): void {
    if (this.linger === null) return;
    clearTimeout(this.linger);
    this.linger = null;
  }

  /** Another writer asked for the lock. */
  private askedFor(): boolean {
    return this.held && fs.existsSync(this.o.wantedPath);
  }

  /**
   * Takes the lock, waiting while another writer holds it: the waiter marks its wish
   * and watches the lock's directory (inotify), so it tries again the moment the
   * holder lets go, with a slow look now and then in case a change went unseen.
   */
  private async take(): Promise<void> {
    const deadline = Date.now() + this.o.waitMs;
    let wake: () => void = () => undefined;
    let watcher: fs.FSWatcher | null | undefined;
    try {
      for (;;) {
        if (!this.owesTurn()) {
          const release = await this.tryLock();
          if (release) {
            this.release = release;
            this.yieldedAt = 0;
            fs.rmSync(this.o.wantedPath, { force: true }); // our wish (or another's, which it marks again) is granted
            return;
          }
        }
        if (Date.now() >= deadline) throw Object.assign(new Error(`the room lock stayed taken for ${this.o.waitMs} ms`), { code: 'ELOCKED' });
        this.markWish();
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

  /**
   * Marks beside the lock that a writer waits. The holder removes the mark as it
   * takes the lock, and on a FUSE disk an open racing that removal fails with
   * ENOENT: the wish is then marked again at the next look.
   */
  private markWish(): void {
    try {
      fs.closeSync(fs.openSync(this.o.wantedPath, 'a'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** Calls `changed` when the lock or the wish beside it comes or goes; null if the directory cannot be watched (then we poll). */
  private watch(changed: () => void): fs.FSWatcher | null {
    const names = new Set([basename(this.o.lockPath), basename(this.o.wantedPath)]);
    try {
      return fs.watch(dirname(this.o.lockPath), { persistent: false }, (_event, name) => {
        if (name === null || names.has(String(name))) changed();
      });
    } catch {
      return null;
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
