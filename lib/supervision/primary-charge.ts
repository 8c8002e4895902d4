/**
 * What puts a primary in charge of its machine: the primary lock (primary-lock.ts)
 * and the record naming its pid and term (primary-record.ts), taken once it alone
 * holds the admin port, and let go at its clean stop.
 */
import { errorMessage } from '../common/log';
import type { TakeoverInput } from '../control/takeover';
import { isDiskFault } from '../core/disk-fault';
import { takePrimaryLock } from './primary-lock';
import { writeRecord } from './primary-record';

export class PrimaryCharge {
  private release: (() => Promise<void>) | null = null;

  constructor(private readonly machineDir: string, private readonly lockStaleMs: number) {}

  /**
   * Takes the lock (a lock left behind belongs to a dead primary) and writes our record:
   * `charged`, or `chargeFailed` when the disk refuses; any other error throws.
   * `compromised` is told if the lock is lost later.
   */
  async take({ term, restarts }: { term: number; restarts: number }, compromised: (detail: string) => void): Promise<TakeoverInput> {
    try {
      this.release ??= await takePrimaryLock(this.machineDir, this.lockStaleMs, compromised);
      await writeRecord(this.machineDir, { pid: process.pid, term, restarts, startedAt: new Date().toISOString() });
      return { kind: 'charged' };
    } catch (err) {
      if (!isDiskFault(err)) throw err;
      await this.release?.().catch(() => undefined);
      this.release = null;
      return { kind: 'chargeFailed', detail: errorMessage(err) };
    }
  }

  async letGo(): Promise<void> {
    await this.release?.();
  }
}
