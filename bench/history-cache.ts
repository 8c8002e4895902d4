/**
 * Generated histories (bench/history-gen.ts) put into a cluster's data dir, and kept
 * in a cache dir between runs (`--history-cache`): 10,000,000 events take minutes
 * and gigabytes to generate.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from './cleanup';
import { generateHistory, HISTORY_MACHINES as MACHINES, type HistoryStats } from './history-gen';

/**
 * Generates the history in a temp dir beside the cluster and moves each machine's dir
 * into its data dir; with a cache, generates it there once (a whole one is renamed
 * into place) and copies it in on every run.
 */
export async function generateInto(
  dataDir: string,
  spec: { events: number; users: number; follows: number; seed: number },
  cache: string | null,
): Promise<HistoryStats> {
  mkdirSync(dataDir, { recursive: true });
  if (cache !== null) {
    const kept = join(cache, `${spec.events}-${spec.users}-${spec.follows}-${spec.seed}`);
    if (!existsSync(join(kept, STATS_FILE))) {
      rmSync(kept, { recursive: true, force: true });
      await generateFresh(spec, (h, stats) => {
        writeFileSync(join(h, STATS_FILE), JSON.stringify(stats));
        mkdirSync(cache, { recursive: true });
        renameSync(h, kept);
      });
    }
    for (const m of MACHINES) await cp(join(kept, m), join(dataDir, m), { recursive: true });
    return JSON.parse(readFileSync(join(kept, STATS_FILE), 'utf8')) as HistoryStats;
  }
  return generateFresh(spec, (h) => {
    for (const m of MACHINES) renameSync(join(h, m), join(dataDir, m)); // same file system: a rename, no copy
  });
}

const STATS_FILE = 'generator.json';

async function generateFresh(spec: { events: number; users: number; follows: number; seed: number }, place: (dir: string, stats: HistoryStats) => void): Promise<HistoryStats> {
  const dir = mkdtempSync(join(tmpdir(), 'ftchat-history-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const stats = await generateHistory({ ...spec, out: join(dir, 'h') });
    place(join(dir, 'h'), stats);
    return stats;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

