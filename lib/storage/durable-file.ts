/** Replacing a whole file so that a crash leaves the old one or the new one, never a mix, and the new one durable once this resolves. */
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { fsyncDir } from './fsync-dir';

export async function replaceFileDurably(path: string, data: Buffer | string): Promise<void> {
  const tmp = `${path}.tmp.${process.pid}`; // two writers (a lock lost to a stall) never share one
  const file = await fs.open(tmp, 'w');
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await fs.rename(tmp, path);
  await fsyncDir(dirname(path));
}
