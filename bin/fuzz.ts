/**
 * fuzz: property-based fuzz of a real 3-machine cluster (`npm run fuzz -- --duration <s> [--seed <n>]`).
 * Parses arguments and hands over to test/fuzz/cluster-fuzz.ts.
 */
import { parseArgs } from 'node:util';
import { errorMessage } from '../lib/common/log';
import { randomSeed } from '../lib/chaos/rng';
import { runFuzz } from '../test/fuzz/cluster-fuzz';

const USAGE = `usage: npm run fuzz -- --duration <s> [--seed <n>]
  --duration <s>   seconds of fuzzing (then converge and check)
  --seed <n>       seed of the requests (default: random, printed)
exit code: 0 no violations, 1 violations found, 2 bad arguments or the run could not be carried out`;

function count(value: string | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    console.error(`--${name} must be a whole number >= ${min}\n${USAGE}`);
    process.exit(2);
  }
  return Number(value);
}

async function main(): Promise<void> {
  let values: { duration?: string; seed?: string };
  try {
    ({ values } = parseArgs({ args: process.argv.slice(2), options: { duration: { type: 'string' }, seed: { type: 'string' } } }));
  } catch (err) {
    console.error(`${errorMessage(err)}\n${USAGE}`);
    process.exit(2);
  }
  const durationS = count(values.duration, 'duration', 1) ?? 60;
  const seed = count(values.seed, 'seed', 0) ?? randomSeed();
  console.log(`fuzz: seed ${seed}, ${durationS} s`);
  const report = await runFuzz({ durationMs: durationS * 1000, seed, say: (l) => console.log(l) });
  console.log(JSON.stringify(report, null, 2));
  console.log(`fuzz: seed ${seed}: ${report.violations.length} violations`);
  process.exit(report.violations.length === 0 ? 0 : 1);
}

main().catch((err) => {
  console.error(`fuzz: ${errorMessage(err)}`);
  process.exit(2);
});
