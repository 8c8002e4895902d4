/**
 * `npm start` needs no set-up step: a loopback-only config with no TLS directory
 * runs `fbs init` on its first start. Machines started at the same moment race to
 * do it; one directory wins and all of them use it, so they replicate to each other.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import t from 'tap';
import { loadConfig } from '../../lib/common/config';
import { call, converged, startCluster } from '../helpers/server';
import { trustCluster } from '../helpers/trust';

t.test('a loopback cluster started with no TLS files inits itself once, and its machines share the CA', async (t) => {
  const cluster = await startCluster({ machines: ['m1', 'm2'], workers: 1, guardians: 1, startMachines: false });
  t.teardown(() => cluster.teardown());
  const { tlsDir } = loadConfig(cluster.configFile);
  rmSync(tlsDir, { recursive: true }); // as a fresh clone has it
  await Promise.all(['m1', 'm2'].map((m) => cluster.start(m)));

  t.equal(statSync(tlsDir).mode & 0o777, 0o700, 'the first start made tls/, 0700');
  t.same(readdirSync(tlsDir).sort(), ['ca.crt', 'ca.key', 'm1.crt', 'm1.key', 'm2.crt', 'm2.key', 'secret']);
  t.same(readdirSync(`${tlsDir}/..`).filter((f) => f.startsWith('.tls-')), [], 'no half-made directory left by the machine that lost the race');
  trustCluster(loadConfig(cluster.configFile)); // the test's own clients trust the new CA

  const m1 = cluster.client('m1');
  await call(m1, 'Connect', { user: 'alice' });
  await call(m1, 'Post', { user: 'alice', id: 'auto-1', text: 'over TLS from the first start' });
  const dump = await converged(cluster, ['m1', 'm2']);
  t.match(dump, /over TLS from the first start/, 'm2 got the post from m1: one CA for both');
});
