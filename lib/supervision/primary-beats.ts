/**
 * A primary's beat files (beat-file.ts): it touches its own every heartbeat, so
 * that its guardians see it live, and sees which of its guardians' files changed.
 */
import type { Logger } from '../common/log';
import { guardianBeatPath } from '../storage/data-dir';
import { Beater, BeatWatcher, primaryBeatPath } from './beat-file';

export class PrimaryBeats {
  private readonly beater: Beater;
  private readonly guardians: BeatWatcher[];

  constructor(machineDir: string, slots: number, log: Logger) {
    this.beater = new Beater(primaryBeatPath(machineDir), log);
    this.guardians = Array.from({ length: slots }, (_, slot) => new BeatWatcher(guardianBeatPath(machineDir, slot)));
  }

  /** Beats ours; returns the slots whose guardian beat since the previous call. */
  beat(): number[] {
    this.beater.beat();
    return this.guardians.flatMap((watcher, slot) => (watcher.beaten() ? [slot] : []));
  }
}
