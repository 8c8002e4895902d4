/**
 * data/<machine>/retired.json: the retirements this machine knows (core/retirements),
 * a JSON array, replaced whole and durably by the machine's replicator; its workers
 * read it to compact and expand their clients' cursors. A retirement the file holds
 * that is not well formed is left out (with a log line): a peer sends it again.
 */
import { readFileSync, statSync } from 'node:fs';
import { retirementError, Retirements, type Retirement } from '../core/retirements';
import { OnceEvery } from '../core/once-every';
import { errorMessage, type Logger } from '../common/log';
import { machinePath } from './data-dir';
import { replaceFileDurably } from './durable-file';

export function readRetirements(machineDir: string, machines: ReadonlySet<string>, log: Logger): Retirements {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(machinePath(machineDir, 'retired'), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn('retired origins file unreadable; starting without it', { error: errorMessage(err) });
    return new Retirements();
  }
  const ok = (Array.isArray(raw) ? raw : []).filter((r) => retirementError(r, machines) === null) as Retirement[];
  return new Retirements(ok);
}

export function writeRetirements(machineDir: string, table: Retirements): Promise<void> {
  return replaceFileDurably(machinePath(machineDir, 'retired'), `${JSON.stringify(table.all())}\n`);
}

/** Looks at the file at most this often (a worker decodes cursors with the table as of then). */
const LOOK_EVERY_MS = 1_000;

/** A worker's view of the file: read again when it changed. */
export class RetiredFileReader {
  private table = new Retirements();
  private seen = '';
  private readonly look = new OnceEvery(LOOK_EVERY_MS);

  constructor(
    private readonly machineDir: string,
    private readonly machines: ReadonlySet<string>,
    private readonly log: Logger,
  ) {}

  current(now = Date.now()): Retirements {
    if (!this.look.due(now)) return this.table;
    let stamp = '';
    try {
      const st = statSync(machinePath(this.machineDir, 'retired'));
      stamp = `${st.mtimeMs}/${st.size}/${st.ino}`;
    } catch {
      return this.table;
    }
    if (stamp !== this.seen) {
      this.seen = stamp;
      this.table = readRetirements(this.machineDir, this.machines, this.log);
    }
    return this.table;
  }
}
