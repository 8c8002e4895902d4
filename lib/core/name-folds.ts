/**
 * Names are unique without regard to case (docs/names.md), but rooms are kept as
 * typed (room files are named by them). The spellings of one case-folded name: a
 * room spelled in lower case is found in the directory itself, so only names with
 * an upper-case letter are kept here, by their folded form. Pure.
 */
import { foldName } from './name-ballot';

export class NameFolds {
  private readonly upper = new Map<string, string[]>();

  add(name: string): void {
    const fold = foldName(name);
    if (fold === name) return;
    const spellings = this.upper.get(fold);
    if (!spellings) this.upper.set(fold, [name]);
    else if (!spellings.includes(name)) spellings.push(name);
  }

  /** The existing rooms spelled like `name` without regard to case (`exists` says whether a room is there). */
  spellings(name: string, exists: (room: string) => boolean): string[] {
    const fold = foldName(name);
    const out = exists(fold) ? [fold] : [];
    return out.concat(this.upper.get(fold) ?? []);
  }
}
