/**
 * The replication benchmark on its own: `npx tsc -p . && node dist/bench/replication-main.js`.
 * Prints the markdown table and writes bench/results/replication-<timestamp>.json.
 * Everything it starts is cleaned up, also on an error or Ctrl-C.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../lib/common/paths';
import { runCleanups } from './cleanup';
import { benchReplication, printReplicationReport } from './replication';

async function main(): Promise<void> {
  const result = await benchReplication();
  printReplicationReport(result);
  const dir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `replication-${result.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nresults: ${file}`);
}

main().then(
  () => {
    runCleanups();
    process.exit(0); // client channels may still hold the loop open
  },
  (err: unknown) => {
    console.error(`replication bench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1); // the 'exit' hook cleans up
  },
);
