/**
 * The recorded primary (data/<machine>/primary.json) as a starting process sees it:
 * whether it still runs, who answers the machine's admin port, its beat file and its
 * death while the Takeover probes it, and its fencing. Each observation comes back as
 * a Takeover input.
 */
import { adminAddress, type ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import { isAlive } from '../common/proc-stat';
import type { Found, TakeoverInput } from '../control/takeover';
import { AdminPeer } from './admin-client';
import { BeatWatcher, primaryBeatPath } from './beat-file';
import { isServerOf, readRecord } from './primary-record';

export class RecordedPrimary {
  /** While probing or fencing: the recorded primary's pid and beat file. */
  private probed: { pid: number; beats: BeatWatcher } | null = null;
  /** While standing by: one connection to the running primary, kept, so that its break tells us at once. */
  private running: AdminPeer | null = null;

  constructor(
    private readonly config: ClusterConfig,
    private readonly machine: string,
    private readonly machineDir: string,
    private readonly log: Logger,
    private readonly heard: (input: TakeoverInput) => void,
  ) {}

  /** The record, and whether its pid still runs as a server of this machine (not us). */
  found(): Found {
    const record = readRecord(this.machineDir);
    const pid = record?.pid ?? 0;
    return { record, recordedRuns: pid !== 0 && pid !== process.pid && isAlive(pid) && isServerOf(pid, this.machine) };
  }

  /** Starts watching `pid` (see look()) and asks who answers the machine's admin port within `timeoutMs`. */
  async probe({ pid, timeoutMs }: { pid: number; timeoutMs: number }): Promise<TakeoverInput | null> {
    const beats = new BeatWatcher(primaryBeatPath(this.machineDir));
    beats.beaten(); // the mtime as it is now: only a change counts
    this.probed = { pid, beats };
    const answered = await this.askAdmin(timeoutMs);
    return answered === null ? null : { kind: 'probeAnswer', pid: answered };
  }

  /** While probing or fencing: the watched primary's death, or a touch of its beat file, since the last look. */
  look(): TakeoverInput | null {
    if (!this.probed) return null;
    if (!isAlive(this.probed.pid)) return { kind: 'recordedGone' };
    return this.probed.beats.beaten() ? { kind: 'lifeSign' } : null;
  }

  forget(): void {
    this.probed = null;
    this.running?.close();
    this.running = null;
  }

  /** A standing-by start's question: does a primary answer, and how is the machine now. */
  async ask(timeoutMs: number): Promise<TakeoverInput> {
    if (!this.running) {
      this.running = new AdminPeer(adminAddress(this.config, this.machine), this.config);
      this.running.onLost(() => {
        this.log.info('standby: the link to the running primary broke');
        this.heard({ kind: 'runningLost' });
      });
    }
    const answered = await this.running.heartbeat(timeoutMs).then((b) => b.pid, () => null);
    return { kind: 'answered', alive: answered !== null, ...this.found() };
  }

  /** Kills the stale primary's process group, so it can never run beside its successor (look() sees it die). */
  fence(pid: number, silentMs: number): void {
    this.log.warn('fencing an unresponsive primary', { stalePid: pid, silentMs });
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        /* not a group leader, or already gone */
      }
    }
  }

  /** The pid that answers the machine's admin port within `timeoutMs`, or null if none does. */
  private async askAdmin(timeoutMs: number): Promise<number | null> {
    const peer = new AdminPeer(adminAddress(this.config, this.machine), this.config);
    try {
      return (await peer.heartbeat(timeoutMs)).pid;
    } catch {
      return null;
    } finally {
      peer.close();
    }
  }
}
