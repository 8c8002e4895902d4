/**
 * A guardian's beat files: the primary's, which it watches; its own, which its
 * primary watches; and its siblings', so that one the ring routed around (a failed
 * delivery while it restarted) rejoins once it beats again.
 */
import type { GuardianInput } from '../control/reviver';
import { guardianBeatPath } from '../storage/data-dir';
import { Beater, BeatWatcher, primaryBeatPath } from './beat-file';
import type { Logger } from '../common/log';

export class GuardianBeats {
  private readonly primary: BeatWatcher;
  private readonly mine: Beater;
  private readonly siblings: [string, BeatWatcher][];

  /** `siblings`: each other guardian's id and slot. */
  constructor(machineDir: string, slot: number, siblings: (readonly [string, number])[], log: Logger) {
    this.primary = new BeatWatcher(primaryBeatPath(machineDir));
    this.mine = new Beater(guardianBeatPath(machineDir, slot), log);
    this.siblings = siblings.map(([id, i]) => [id, new BeatWatcher(guardianBeatPath(machineDir, i))]);
  }

  /** Whether the primary beat since the last look. */
  primaryBeat(): GuardianInput[] {
    return this.primary.beaten() ? [{ kind: 'beat' }] : [];
  }

  /** Beats our own file; the siblings that beat since the last look. */
  beatAndLook(): GuardianInput[] {
    this.mine.beat();
    return this.siblings.flatMap(([id, beats]): GuardianInput[] => (beats.beaten() ? [{ kind: 'siblingAlive', id }] : []));
  }
}
