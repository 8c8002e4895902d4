/**
 * The machine's checkpoint lock (proper-lockfile): one process at a time loads
 * the machine's state or writes its checkpoint, so children revived together each
 * get the CPU in turn, and a first start over a long history builds the checkpoint once.
 */
import lockfile from 'proper-lockfile';
import type { Logger } from '../common/log';
import { clockOffsetMs, lockFs } from './lock-clock';
import { ownedLockFs } from './lock-owner';
import { machinePath } from './data-dir';

/**
 * The lock outlives a busy holder: a first start over a long history on a loaded
 * machine may stall its event loop a while, and losing the lock then only lets
 * another process build too (the checkpoint file is written atomically).
 */
const STALE_MS = 10_000;
/** A loader waiting for a sibling's load looks this often (a load takes 0.1-1 s; one mkdir a look). */
const POLL_MS = 20;

export class CheckpointLock {
  private lockFs?: ReturnType<typeof lockFs>;

  constructor(
    private readonly machineDir: string,
    private readonly log: Logger,
  ) {}

  /** Runs `fn` holding the lock, waiting as long as another process builds (a first start over a long history takes a while). */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    for (;;) {
      const done = await this.runIfFree(fn);
      if (done !== null) return done.result;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** Runs `fn` holding the lock if no other process holds it; null if one does. */
  async runIfFree<T>(fn: () => Promise<T>): Promise<{ result: T } | null> {
    try {
      return { result: await this.locked(fn) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
      return null;
    }
  }

  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    this.lockFs ??= ownedLockFs(lockFs(clockOffsetMs(this.machineDir)));
    let compromised = false;
    const release = await lockfile.lock(this.machineDir, {
      fs: this.lockFs,
      lockfilePath: machinePath(this.machineDir, 'checkpointLock'),
      realpath: false,
      stale: STALE_MS,
      update: Math.floor(STALE_MS / 2),
      retries: 0,
      onCompromised: (err) => {
        compromised = true;
        this.log.warn('lost the checkpoint lock while holding it', { error: err.message });
      },
    });
    try {
      return await fn();
    } finally {
      await release().catch((err: Error) => {
        if (!compromised) throw err; // a lost lock has nothing left to release
      });
    }
  }
}
