/**
 * Bad input and a dead cluster: the client answers with one clear line and an
 * exit code, never a stack trace.
 */
import t from 'tap';
import { runFbc } from '../helpers/fbc';
import { freePort, startCluster } from '../helpers/server';

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

t.test('no server reachable is one line, no stack trace', async (t) => {
  const dead = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
  // A cluster's config, never started: the client finds the cluster's CA through it.
  const cluster = await startCluster({ startMachines: false });
  t.teardown(() => cluster.teardown());
  const r = await runFbc(t, ['-u', 'alice', '-s', dead.join(','), '-c', cluster.configFile], ['list']);
  t.equal(r.code, 1);
  t.same(r.err, [`error: no server reachable (tried ${dead.join(', ')})`]);
  t.same(r.out, []);
});
