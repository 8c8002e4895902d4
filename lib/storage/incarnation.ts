/**
 * A machine's data dir has an incarnation: a random id made when the dir is first
 * used. Writer origins include it ("m2.k3f9a1.w0"), so a machine restarted with an
 * empty or lost data dir starts fresh origins instead of reusing (origin, seq)
 * slots that its peers already hold for other events.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { machinePath } from './data-dir';

export function incarnationOf(machineDir: string): string {
  const file = machinePath(machineDir, 'incarnation');
  mkdirSync(machineDir, { recursive: true });
  try {
    // Exclusive create: when several processes start at once, exactly one id wins.
    writeFileSync(file, randomBytes(3).toString('hex'), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const id = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{6}$/.test(id)) throw new Error(`corrupt incarnation file ${file}: remove it to start fresh origins`);
  return id;
}
