/**
 * Found by the chaos run (seed 1419128991): on a machine whose clock runs three
 * hours behind (faketime), the machine's room lock left by a writer SIGKILLed in
 * the middle of a commit is never taken over. proper-lockfile calls a lock stale
 * when its mtime is older than `stale` by Date.now(); the mtime is set by the
 * kernel's clock when the lock directory is made, Date.now() is the machine's
 * skewed clock, so the lock looks 3 hours fresh and every writer of the machine
 * crash-loops on "Lock file is already being held".
 */
import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { call, startCluster } from '../helpers/server';
import { NO_FAKETIME, skewedClock } from '../helpers/faketime';
import { waitFor } from '../helpers/wait';


t.test(
  'a machine three hours behind takes over the room lock of a writer killed while holding it',
  { skip: NO_FAKETIME },
  async (t) => {
    const cluster = await startCluster({
      machines: ['m1'],
      workers: 1,
      guardians: 1,
      launch: { m1: skewedClock('-3h') },
    });
    t.teardown(() => cluster.teardown());
    const client = cluster.client('m1');
    await call(client, 'Connect', { user: 'alice' });
    await call(client, 'Post', { user: 'alice', id: 'before', text: 'before the crash' });

    // What a writer SIGKILLed right after taking the lock leaves behind: the lock
    // directory, its mtime set by the kernel's clock, never refreshed again. Taken as a
    // writer takes it (an atomic mkdir), once the worker has let it go.
    const lock = join(cluster.dir, 'data', 'm1', 'rooms.lock');
    await waitFor('the room lock free to take', () => {
      try {
        mkdirSync(lock);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw err;
      }
    }, 30_000, 5);

    // The lock goes stale after storage.lockStaleMs (2 s); the next writer must take it over.
    const stored = await waitFor(
      'a post stored after the dead writer\'s lock went stale',
      () => call(client, 'Post', { user: 'alice', id: 'after', text: 'after the crash' }).then(() => true, () => false),
      30_000,
      500,
    ).catch(() => false);
    t.ok(stored, 'a post is stored again');
  },
);
