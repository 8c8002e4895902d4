/**
 * Ports for clusters started on the fly: a port handed out is reserved for the
 * process that asked, so one cluster.json never names a port twice and two test
 * files running side by side never share one (a replicator that cannot bind its
 * peer port left a test cluster unserved for 90 s).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { freePort, freePortRun } from '../../lib/chaos/ports';

t.test('no port is handed out twice, and each is reserved on the host for this process', async (t) => {
  const ports = [];
  for (let i = 0; i < 300; i++) ports.push(await freePort());
  const run = await freePortRun(3);
  ports.push(run, run + 1, run + 2);
  t.equal(new Set(ports).size, ports.length, `${ports.length} ports, all different`);
  t.ok(ports.every((p) => readFileSync(`/tmp/ftchat-ports/${p}`, 'utf8') === String(process.pid)), "each port's reservation names this process");
});
