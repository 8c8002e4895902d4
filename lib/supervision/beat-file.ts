/**
 * A heartbeat through a file's mtime, for processes on one machine: the beating
 * process touches the file every interval, the watcher stats it on its own timer
 * and counts a changed mtime as a beat. A touch and a stat are a syscall each, no
 * socket wake-up and no message to decode (a beat over a gRPC stream cost about
 * 0.3 ms of CPU on each side), so a primary can beat its guardians every 200 ms
 * and an idle tree stays cheap. Only a change counts, never the mtime
 * itself, so the beat works whatever the clocks say (faketime, NTP steps).
 */
import { closeSync, openSync, statSync, utimesSync } from 'node:fs';
import { errorMessage, type Logger } from '../common/log';
import { machinePath } from '../storage/data-dir';

/** The machine's primary beats its guardians through this file. */
export function primaryBeatPath(machineDir: string): string {
  return machinePath(machineDir, 'primaryBeat');
}


/** Beats through one beat file. A beat that cannot be written (say, a full disk before the file exists) is logged, never thrown. */
export class Beater {
  private failing = false;

  constructor(private readonly path: string, private readonly log: Logger) {}

  beat(): void {
    const now = new Date();
    try {
      utimesSync(this.path, now, now);
      return this.ok();
    } catch {
      /* the first beat: create it */
    }
    try {
      closeSync(openSync(this.path, 'a'));
      this.ok();
    } catch (err) {
      if (!this.failing) this.log.error('cannot write the beat file; watchers will think us silent', { path: this.path, error: errorMessage(err) });
      this.failing = true;
    }
  }

  private ok(): void {
    if (this.failing) this.log.info('beat file written again', { path: this.path });
    this.failing = false;
  }
}

/** Watches one beat file: `beaten()` is true when it was touched since the previous call. */
export class BeatWatcher {
  private last = -1;

  constructor(private readonly path: string) {}

  beaten(): boolean {
    let mtime: number;
    try {
      mtime = statSync(this.path).mtimeMs;
    } catch {
      return false; // not beaten yet
    }
    const changed = this.last !== -1 && mtime !== this.last;
    this.last = mtime;
    return changed;
  }
}
