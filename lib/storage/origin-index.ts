/**
 * A machine's origin index: data/<machine>/index/<origin>.idx, one fixed-size
 * record per seq (lib/core/index-record), saying where that event lies in the room
 * files. Derived data: every process writes the records of every line it reads or
 * appends (the same bytes at the same place, so writers never conflict), so a
 * process can always find what it has applied. Not fsynced per write: a checkpoint
 * fsyncs the index first, and a start re-scans (and re-indexes) everything after it.
 * Page-cache I/O only, so synchronous (see room-files).
 */
import { closeSync, fdatasync, mkdirSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeRecord, encodeRecord, RECORD_BYTES, type IndexRecord } from '../core/index-record';

const fdatasyncAsync = promisify(fdatasync);

interface Run {
  first: number;
  count: number;
  buf: Buffer;
}

export class OriginIndex {
  readonly dir: string;
  private readonly fds = new Map<string, number>();
  private readonly runs = new Map<string, Run>();
  private readonly unsynced = new Set<string>();

  constructor(machineDir: string) {
    this.dir = join(machineDir, 'index');
  }

  /** Records (buffered until flush) where the origin's event `seq` lies. */
  write(origin: string, seq: number, rec: IndexRecord): void {
    let run = this.runs.get(origin);
    if (run && run.first + run.count !== seq) {
      this.flushRun(origin, run);
      run = undefined;
    }
    if (!run) this.runs.set(origin, (run = { first: seq, count: 0, buf: Buffer.alloc(RECORD_BYTES * 64) }));
    if ((run.count + 1) * RECORD_BYTES > run.buf.length) {
      const bigger = Buffer.alloc(run.buf.length * 2);
      run.buf.copy(bigger);
      run.buf = bigger;
    }
    encodeRecord(rec, run.buf, run.count * RECORD_BYTES);
    run.count++;
  }

  flush(): void {
    for (const [origin, run] of this.runs) this.flushRun(origin, run);
  }

  /** Records of seqs from..from+count-1 (null where none is written). */
  read(origin: string, from: number, count: number): (IndexRecord | null)[] {
    if (this.runs.has(origin)) this.flush();
    const fd = this.fd(origin, false);
    const out: (IndexRecord | null)[] = [];
    if (fd === null) return Array.from({ length: count }, () => null);
    const buf = Buffer.alloc(count * RECORD_BYTES);
    const got = readSync(fd, buf, 0, buf.length, (from - 1) * RECORD_BYTES);
    for (let i = 0; i < count; i++) out.push(decodeRecord(buf.subarray(0, got), i * RECORD_BYTES));
    return out;
  }

  /** Makes every record written so far durable (before a checkpoint counts on them). */
  async sync(): Promise<void> {
    this.flush();
    const fds = [...this.unsynced].map((origin) => this.fd(origin, true) as number);
    this.unsynced.clear();
    await Promise.all(fds.map((fd) => fdatasyncAsync(fd)));
  }

  /** Drops the whole index (it disagreed with the room files): the next full scan rebuilds it. */
  remove(): void {
    this.close();
    this.runs.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
    this.unsynced.clear();
  }

  private flushRun(origin: string, run: Run): void {
    this.runs.delete(origin);
    writeSync(this.fd(origin, true) as number, run.buf, 0, run.count * RECORD_BYTES, (run.first - 1) * RECORD_BYTES);
    this.unsynced.add(origin);
  }

  private fd(origin: string, create: boolean): number | null {
    let fd = this.fds.get(origin);
    if (fd !== undefined) return fd;
    const path = join(this.dir, `${origin}.idx`);
    try {
      fd = openSync(path, 'r+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (!create) return null;
      mkdirSync(this.dir, { recursive: true });
      fd = openSync(path, 'a+'); // create without truncating what another process made meanwhile
      closeSync(fd);
      fd = openSync(path, 'r+');
    }
    this.fds.set(origin, fd);
    return fd;
  }
}
