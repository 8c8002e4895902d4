/**
 * `fbs status [--json] [--watch]`: once, or redrawn in place every second until
 * Ctrl-C (with --json, one JSON object a line). Once, it exits non-zero when no
 * machine answers, with a hint on stderr.
 */
import type { ClusterConfig } from '../common/config';
import { EXIT_CLUSTER_DOWN } from '../common/exit-codes';
import { clusterDown, clusterStatus, DOWN_HINT, formatStatus, type ClusterStatus } from './status';

const WATCH_EVERY_MS = 1_000;
/** Cursor home, then clear to the end of the screen: the next frame replaces the last without a flicker of blank. */
const HOME = '\x1b[H';
const CLEAR_BELOW = '\x1b[J';

export interface StatusCommandOptions {
  json: boolean;
  watch: boolean;
  out: (text: string) => void;
  err: (text: string) => void;
}

export async function statusCommand(config: ClusterConfig, opts: StatusCommandOptions): Promise<number> {
  const render = (s: ClusterStatus): string => (opts.json ? `${JSON.stringify(s, null, opts.watch ? 0 : 2)}\n` : formatStatus(s));
  if (!opts.watch) {
    const status = await clusterStatus(config);
    opts.out(render(status));
    if (!clusterDown(status)) return 0;
    opts.err(`${DOWN_HINT}\n`);
    return EXIT_CLUSTER_DOWN;
  }
  if (!opts.json) opts.out(`${HOME}\x1b[2J`);
  for (;;) {
    const started = Date.now();
    const status = await clusterStatus(config);
    const frame = opts.json ? render(status) : `${HOME}${new Date().toLocaleTimeString()}  fbs status --watch (Ctrl-C to stop)\n${clearLines(render(status))}${clusterDown(status) ? `${DOWN_HINT}\n` : ''}${CLEAR_BELOW}`;
    opts.out(frame);
    await new Promise((r) => setTimeout(r, Math.max(0, WATCH_EVERY_MS - (Date.now() - started))));
  }
}

/** Each line clears its own rest, so a shorter line does not leave the tail of a longer one. */
function clearLines(text: string): string {
  return text.replace(/\n/g, '\x1b[K\n');
}
