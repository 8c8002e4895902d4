/**
 * A stand-in for a test file that tap kills at its timeout (test/integration/
 * killed-test-leaves-no-cluster.test.ts runs it): it owns what it starts as every
 * test file does, starts a machine with its guardians, prints its owner mark, its
 * config file and its master's pid once every process is up, and waits to be killed.
 *
 * Its watchdog inherits TAP_TIMEOUT as tap's test files have it, one that has
 * passed when the kill comes, as it has when tap kills a file at its timeout.
 * When its parent goes (the pipe on stdin closes), it exits by itself.
 */
import { ownChildren } from './reaper';

process.env.TAP_TIMEOUT = '1';
ownChildren();
delete process.env.TAP_TIMEOUT; // its own waits (the cluster's start) keep their deadlines

const UP_MS = 120_000;

async function main(): Promise<void> {
  // Loaded after the mark: the helper owns its children when it is loaded.
  const { startCluster } = require('./server') as typeof import('./server');
  const cluster = await startCluster({ machines: ['m1'], workers: 1, guardians: 2 });
  // fbs status may lag the serving tree by a lot on a loaded host.
  const master = await cluster.upProcess('m1', 'master', undefined, undefined, UP_MS);
  for (const slot of [0, 1]) await cluster.upProcess('m1', 'replica', slot, undefined, UP_MS);
  process.stdout.write(`${JSON.stringify({ owner: process.env.FTCHAT_TEST_OWNER, configFile: cluster.configFile, master: master.pid })}\n`);
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}

main().catch((err) => {
  process.stderr.write(`doomed-test: ${(err as Error).message}\n`);
  process.exit(1);
});
