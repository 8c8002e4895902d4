/**
 * Deletes the write-ahead log's full segments once every room file written before
 * is on disk: `sync -f` syncs the whole file system, where fsyncing each room a
 * segment touched could be tens of thousands of calls. The checkpoint's segment and
 * those after it stay (a load reads the rooms they name), up to `keptSegments` of them.
 */
import { execFile } from 'node:child_process';
import { unlinkSync } from 'node:fs';
import { promisify } from 'node:util';
import { errorMessage, type Logger } from '../common/log';
import { listSegments, segmentPath } from './wal-segments';

const execFileAsync = promisify(execFile);

export class WalRetirement {
  private running = false;
  /** The segment the running pass keeps from (a rotation while it runs raises it). */
  private keepFrom = -1;

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
    /** The oldest segment a load may still read (the checkpoint's), if any. */
    private readonly retainFrom: () => number | null,
    private readonly keptSegments: number,
  ) {}

  /** Deletes the segments before `keep` (see above); a pass already running goes again for it. */
  async retire(keep: number): Promise<void> {
    this.keepFrom = Math.max(this.keepFrom, keep);
    if (this.running) return; // a sync -f can take seconds
    this.running = true;
    try {
      for (let done = -1; done < this.keepFrom; ) {
        done = this.keepFrom;
        await execFileAsync('sync', ['-f', this.dir]);
        const floor = Math.min(done, Math.max(this.retainFrom() ?? done, done - this.keptSegments));
        for (const n of listSegments(this.dir)) if (n < floor) unlinkSync(segmentPath(this.dir, n));
      }
    } catch (err) {
      this.log.warn('could not retire write-ahead log segments (kept for now)', { error: errorMessage(err) });
    } finally {
      this.running = false;
    }
  }
}
