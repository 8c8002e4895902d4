/**
 * A guardian's own sight of its machine's primary, over the network and the
 * record: its Watch stream (we say who we are; each answer carries the primary's
 * pid and term; it breaks once) and whether a pid dies within a grace. What it
 * sees comes back as PrimaryVerdict's inputs.
 */
import { adminAddress } from '../common/config';
import { standbyPids } from '../common/processes';
import type { VerdictInput } from '../control/primary-verdict';
import { AdminPeer } from './admin-client';
import type { GuardianOptions } from './guardian';
import { diesWithin, readRecord } from './primary-record';

export class PrimaryWatch {
  private readonly peer: AdminPeer;

  constructor(private readonly o: GuardianOptions, private readonly machineDir: string, private readonly me: string, private readonly heard: (input: VerdictInput) => void) {
    this.peer = new AdminPeer(adminAddress(o.config, o.machine), o.config);
  }

  open(): void {
    const stream = this.peer.watch();
    let broken = false;
    const onBroken = (): void => {
      if (broken) return;
      broken = true;
      const recordPid = this.recordPid();
      this.heard({ kind: 'broken', recordPid, standby: recordPid !== null && standbyPids(this.o.config.file, this.o.machine, recordPid).length > 0 });
    };
    stream.write({ from: this.me, pid: process.pid, term: 0 });
    stream.on('data', (b: { pid: number; term: number }) => this.heard({ kind: 'answer', pid: b.pid, term: Number(b.term) }));
    stream.on('error', onBroken);
    stream.on('end', onBroken);
  }

  checkPid(pid: number, withinMs: number): void {
    void diesWithin(pid, withinMs).then((gone) => this.heard({ kind: 'pidChecked', pid, gone, recordPid: this.recordPid() }));
  }

  private recordPid(): number | null {
    return readRecord(this.machineDir)?.pid ?? null;
  }
}
