/**
 * Found by the chaos run (seed 4): a user's own posts must keep the order the user
 * posted them in, even when the user fails over to a machine whose clock runs
 * behind and which has not yet received the user's earlier post. The new machine
 * stamps the post from its own hybrid logical clock, which knows nothing of the
 * earlier post, so the later post sorts first. The client must carry what it has
 * seen (a causality token) for the server to stamp after it.
 */
import t from 'tap';
import { ChatConnection } from '../../lib/client/connection';
import { call, converged, startCluster, dumpEvents, testKeys } from '../helpers/server';
import { NO_FAKETIME, skewedClock } from '../helpers/faketime';
import { waitFor } from '../helpers/wait';
import { credentialsFor } from '../helpers/trust';


t.test(
  "a user's later post sorts after the earlier one when the user fails over to a machine whose clock is behind",
  { skip: NO_FAKETIME },
  async (t) => {
    const cluster = await startCluster({
      machines: ['m1', 'm2'],
      workers: 1,
      guardians: 1,
      launch: { m2: skewedClock('-3h') },
    });
    t.teardown(() => cluster.teardown());
    // A dead machine refuses at once, so the failover does not wait on attemptMs; a live m1 beside a busy test run may take seconds to answer a new user.
    const conn = new ChatConnection(testKeys.identity('alice'), [cluster.address('m1'), cluster.address('m2')], credentialsFor(cluster.address('m1')), { attemptMs: 20_000 });
    t.teardown(() => conn.close());
    t.equal((await conn.connect()).machine, 'm1', 'alice starts on m1');
    await waitFor("alice's room on m2", () => call(cluster.client('m2'), 'Timeline', { user: 'alice' }));

    // m2 must not hear of the first post before the second one is stamped there.
    const replicator = (await cluster.upProcess('m2', 'replicator')).pid;
    process.kill(replicator, 'SIGSTOP');
    t.teardown(() => {
      try {
        process.kill(replicator, 'SIGCONT');
      } catch {
        /* re-forked meanwhile */
      }
    });
    const first = await conn.call('Post', { user: 'alice', id: 'first', text: 'first' });
    t.equal(first.event?.origin.split('.')[0], 'm1', 'the first post is stored on m1');
    await cluster.killMachine('m1');
    const second = await conn.call('Post', { user: 'alice', id: 'second', text: 'second' });
    t.equal(second.event?.origin.split('.')[0], 'm2', 'the second post, after failing over, on m2');
    process.kill(replicator, 'SIGCONT');

    await cluster.start('m1');
    const dump = await converged(cluster, ['m1', 'm2']);
    const posts = dumpEvents(dump).filter((e) => e.kind === 'post').map((e) => e.text);
    t.same(posts, ['first', 'second'], 'every machine shows them in the order alice posted them');
  },
);
