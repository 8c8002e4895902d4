/**
 * One order everywhere although the machines' clocks disagree by hours: m2 runs
 * three hours behind and m3 ten minutes ahead (libfaketime over each machine's
 * whole process tree). Users on different machines answer each other; every
 * machine ends with the same data and the same order, every reply sorts after
 * what it answers, and the offending clocks are reported in the logs.
 */
import t from 'tap';
import type { ChatClient } from '../../lib/gen/ftchat/Chat';
import type { Event__Output } from '../../lib/gen/ftchat/Event';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { FBS, call, converged, startCluster } from '../helpers/server';
import { NO_FAKETIME, skewedClock } from '../helpers/faketime';
import { waitFor } from '../helpers/wait';

const run = promisify(execFile);

const MACHINES = ['m1', 'm2', 'm3'];

async function timelineIds(client: ChatClient, user: string): Promise<string[]> {
  const tl = await call(client, 'Timeline', { user, limit: 1000 });
  return tl.events.map((e: Event__Output) => e.id);
}

t.test(
  'order is the same on every machine under clock skew',
  { skip: NO_FAKETIME },
  async (t) => {
    const cluster = await startCluster({
      machines: MACHINES,
      workers: 2,
      guardians: 1,
      launch: { m2: skewedClock('-3h'), m3: skewedClock('+10m') },
    });
    t.teardown(() => cluster.teardown());
    t.teardown(() => {
      if (t.passing()) return;
      for (const l of cluster.logs) if (l.role === 'replicator' || l.level !== 'info') console.error('LOG', JSON.stringify(l).slice(0, 400));
    });
    const users = ['ana', 'ben', 'cat']; // one user per machine, in MACHINES order
    const clients = MACHINES.map((m) => cluster.client(m));
    for (let i = 0; i < 3; i++) await call(clients[i], 'Connect', { user: users[i] });
    for (let i = 0; i < 3; i++) {
      for (const other of users.filter((u) => u !== users[i])) {
        await waitFor(`${users[i]} joins ${other}`, () => call(clients[i], 'Join', { user: users[i], room: other }), 30_000);
      }
    }

    // A conversation going round the machines: each post answers the one before it,
    // posted after its author saw that one on the author's own machine.
    const replies: [reply: string, answered: string][] = [];
    let previous: string | null = null;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 3; i++) {
        if (previous) {
          const seen = previous;
          await waitFor(`${users[i]} sees ${seen}`, async () => (await timelineIds(clients[i], users[i])).includes(seen), 30_000);
        }
        const ack = await call(clients[i], 'Post', { user: users[i], id: `r${round}-${users[i]}`, text: `round ${round}` });
        if (previous) replies.push([ack.event.id, previous]);
        previous = ack.event.id;
      }
    }

    const dump = await converged(cluster, MACHINES);
    const order = dump.split('\n').filter(Boolean).map((l) => JSON.parse(l).id as string);
    const misordered = replies.filter(([reply, answered]) => order.indexOf(reply) < order.indexOf(answered));
    t.same(misordered, [], `each of the ${replies.length} replies sorts after the post it answers`);

    const posts = order.filter((id) => id.startsWith('post/'));
    for (let i = 0; i < 3; i++) {
      const shown = await waitFor(`${MACHINES[i]} shows every post`, async () => {
        const ids = await timelineIds(clients[i], users[i]);
        return ids.length === posts.length && ids;
      }, 30_000);
      t.same(shown, posts, `${MACHINES[i]} shows the posts in the one order`);
    }

    const warned = await cluster.waitForLog('a clock offset warning', (l) => l.msg === 'clock offset beyond bound');
    t.ok(warned, 'a peer beyond the clock offset bound was reported');
    for (const m of MACHINES) {
      const w = cluster.logs.find((l) => l.machine === m && l.msg === 'clock offset beyond bound');
      if (w) t.comment(`${m} on ${w.peer}: peer clock offset ${w.peerClockOffsetMs} ms, events ahead ${w.eventAheadMs} ms`);
    }

    // ...and loudly in `fbs status`: m1 sees m2 about 3 hours behind.
    const { stdout } = await waitFor('fbs status to show the skew', async () => {
      const out = await run(process.execPath, [FBS, 'status', '--config', cluster.configFile]);
      return /WARNING: m2's clock is \d\.\d h behind m1's/.test(out.stdout) && out;
    }, 30_000);
    t.match(stdout, /WARNING: m2's clock is 3\.0 h behind m1's \(beyond the configured bound\)/, 'fbs status warns of m2, 3 hours behind');
  },
);
