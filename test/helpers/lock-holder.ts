/**
 * A process that commits under the machine lock (lib/storage/machine-lock) `sections`
 * times, back to back as a busy group commit does, and proves it alone is inside:
 * each section creates `<dir>/inside` exclusively (O_EXCL), stays a little (timers,
 * so the other process runs meanwhile) and removes it. Prints one JSON line:
 * { sections, clashes }. For test/integration/machine-lock.test.ts.
 */
import { appendFileSync, openSync, closeSync, rmSync, constants } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MachineLock } from '../../lib/storage/machine-lock';

async function main(): Promise<void> {
  const { dir, sections } = JSON.parse(process.argv[2]) as { dir: string; sections: number };
  const lock = new MachineLock({
    dir,
    lockPath: join(dir, 'rooms.lock'),
    staleMs: 10_000,
    waitMs: 60_000,
    onCompromised: (err) => {
      process.stderr.write(`compromised: ${err.message}\n`);
      process.exit(3);
    },
    clockDir: dir,
  });
  const inside = join(dir, 'inside');
  let clashes = 0;
  for (let i = 0; i < sections; i++) {
    await lock.run(async () => {
      try {
        closeSync(openSync(inside, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY));
      } catch {
        clashes++; // another process is inside too
        return;
      }
      appendFileSync(join(dir, 'order'), `${process.pid}\n`);
      await sleep(i % 3);
      rmSync(inside);
    });
  }
  process.stdout.write(`${JSON.stringify({ sections, clashes })}\n`);
}

void main();
