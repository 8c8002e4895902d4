/**
 * A machine's origin index: data/<machine>/index/<origin>.idx, one fixed-size
 * record per seq (lib/core/index-record), saying where that event lies in the room
 * files. Derived data: every process writes the records of every line it reads or
 * appends (the same bytes at the same place, so writers never conflict), so a
 * process can always find what it has applied. Not fsynced per write: a checkpoint
 * fsyncs the index first, and a start re-scans (and re-indexes) everything after it.
 * Page-cache I/O only, so synchronous (see room-files.ts). Records a disk fault
 * refuses stay in memory, are read from there, and are written at the next flush
 * (there are few: a full disk refuses the commits that would add more).
 */
import { readSync } from 'node:fs';
import { isDiskFault } from '../core/disk-fault';
import { decodeRecord, encodeRecord, RECORD_BYTES, type IndexRecord } from '../core/index-record';
import { OriginIndexFiles } from './origin-index-files';

/** Index records a reader asks for per origin per disk read. */
export const RECORDS_PER_READ = 1_024;

interface Run {
  first: number;
  count: number;
  buf: Buffer;
}

export class OriginIndex {
  private readonly files: OriginIndexFiles;
  private readonly runs = new Map<string, Run>();
  /** Runs a disk fault kept from their file, oldest first, and the last such fault. */
  private unwritten: { origin: string; run: Run }[] = [];
  private fault: unknown = null;

  constructor(machineDir: string) {
    this.files = new OriginIndexFiles(machineDir);
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
    const retry = this.unwritten;
    this.unwritten = [];
    for (const { origin, run } of retry) this.writeRun(origin, run);
    for (const [origin, run] of this.runs) this.flushRun(origin, run);
  }

  /** Records of seqs from..from+count-1 (null where none is written). */
  read(origin: string, from: number, count: number): (IndexRecord | null)[] {
    if (this.runs.has(origin)) this.flush();
    const fd = this.files.open(origin, false);
    const out: (IndexRecord | null)[] = [];
    if (fd === null && this.unwritten.length === 0) return Array.from({ length: count }, () => null);
    const buf = Buffer.alloc(count * RECORD_BYTES);
    const got = fd === null ? 0 : readSync(fd, buf, 0, buf.length, (from - 1) * RECORD_BYTES);
    for (let i = 0; i < count; i++) out.push(decodeRecord(buf.subarray(0, got), i * RECORD_BYTES));
    for (const { run } of this.unwritten.filter((u) => u.origin === origin)) {
      const lo = Math.max(from, run.first);
      const hi = Math.min(from + count, run.first + run.count);
      for (let seq = lo; seq < hi; seq++) out[seq - from] = decodeRecord(run.buf, (seq - run.first) * RECORD_BYTES);
    }
    return out;
  }

  /**
   * Makes every record written so far durable (before a checkpoint counts on them),
   * and the files' names: any process of the machine may have made one.
   */
  async sync(): Promise<void> {
    this.flush();
    if (this.unwritten.length > 0) throw this.fault; // a checkpoint must not count on records still in memory
    await this.files.sync();
  }

  /** Drops the whole index (it disagreed with the room files): the next full scan rebuilds it. */
  remove(): void {
    this.runs.clear();
    this.unwritten = [];
    this.files.remove();
  }

  private flushRun(origin: string, run: Run): void {
    this.runs.delete(origin);
    this.writeRun(origin, run);
  }

  private writeRun(origin: string, run: Run): void {
    try {
      this.files.write(origin, run.buf, run.count * RECORD_BYTES, (run.first - 1) * RECORD_BYTES);
    } catch (err) {
      if (!isDiskFault(err)) throw err;
      this.unwritten.push({ origin, run });
      this.fault = err;
    }
  }
}
