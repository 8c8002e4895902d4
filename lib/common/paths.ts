/** The repository root, found the same way from source (tests) and from dist/. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'protos', 'ftchat.proto'))) return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find protos/ftchat.proto above ${from}`);
  }
}

export const REPO_ROOT = findRoot(__dirname);
