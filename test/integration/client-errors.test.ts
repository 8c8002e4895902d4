/**
 * Bad input and a dead cluster: the client answers with one clear line and an
 * exit code, never a stack trace.
 */
import t from 'tap';
import { NOT_RUNNING_HINT } from '../../lib/client/connection';
import { runFbc, spawnFbc } from '../helpers/fbc';
import { freePort, startCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';

/** How long fbc keeps failing over before it reports no server (connection.ts, DEFAULT_FAILOVER.totalMs). */
const FAILOVER_BUDGET_MS = 15_000;

t.test('a bad username is refused with a clear message', async (t) => {
  for (const bad of ['../etc', '-rf', 'has space', 'x'.repeat(33)]) {
    const r = await runFbc(t, [`--user=${bad}`, '-s', '127.0.0.1:1'], []);
    t.equal(r.code, 2, `exit code 2 for '${bad}'`);
    t.equal(r.err.length, 1, 'one line');
    t.match(r.err[0], /^error: bad username '.*': /);
  }
});

t.test('without -u and without a terminal the client prints its usage and exits 2', async (t) => {
  const r = await runFbc(t, ['-s', '127.0.0.1:1'], ['alice']);
  t.equal(r.code, 2);
  t.equal(r.err[0], 'error: -u <username> is required');
  t.match(r.err.join('\n'), /usage: fbc -u <username>/);
});

t.test('a bad server list or option is one line and exit code 2', async (t) => {
  const r = await runFbc(t, ['-u', 'alice', '-s', 'nowhere'], []);
  t.equal(r.code, 2);
  t.same(r.err, ["error: bad server address 'nowhere': expected host:port"]);
  const o = await runFbc(t, ['-u', 'alice', '--frobnicate'], []);
  t.equal(o.code, 2);
  t.match(o.err[0], /^error: .*frobnicate/);
  t.match(o.err[1], /^usage: fbc/);
});

t.test('with no server running fbc says so in one line with a hint, long before its failover budget', async (t) => {
  const dead = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
  // A cluster's config, never started: the client finds the cluster's CA through it.
  const cluster = await startCluster({ startMachines: false });
  t.teardown(() => cluster.teardown());
  const fbc = spawnFbc(t, ['-u', 'alice', '-s', dead.join(','), '-c', cluster.configFile]);
  fbc.send('list');
  // Every port refuses at once, so fbc gives up at once (the contract: about 1 s), not after
  // its 15 s of failover; the deadline is for a loaded host, and still far below those 15 s.
  let code: number | string | undefined;
  void fbc.exited.then((c) => (code = c));
  await waitFor('fbc to give up', () => code !== undefined, FAILOVER_BUDGET_MS - 3_000);
  t.equal(code, 1);
  await waitFor('its error line', () => fbc.err.length > 0 || undefined);
  t.same(fbc.err, [`error: no server reachable (tried ${dead.join(', ')}): each refused the connection; ${NOT_RUNNING_HINT}`]);
  t.same(fbc.out, []);
});
