/**
 * How far this process has read each room file (whole lines), per room. One
 * object for the process's life: the reader, the commit writer and the checkpoint
 * all hold it, and a load restores it in place.
 */
import { NameNumbers } from '../core/name-numbers';

export class RoomOffsets {
  private offsets = new NameNumbers();

  /** How far this process has read the room's file. */
  of(room: string): number {
    return this.offsets.get(room);
  }

  /** The room's file was read (or written) up to `end`. */
  set(room: string, end: number): void {
    this.offsets.set(room, end);
  }

  /** The room's lines up to `end` were taken from elsewhere (their index records): read on from there. */
  passTo(room: string, end: number): void {
    if (end > this.offsets.get(room)) this.offsets.set(room, end);
  }

  /** Every room's offset, per id of the first `names` of the offsets' name table, for a checkpoint. */
  snapshot(names: number): Float64Array {
    return this.offsets.snapshot(names);
  }

  /** Starts from a checkpoint's offsets (over the journal's name table): only what lies past them is read again. */
  restore(offsets: NameNumbers): void {
    this.offsets = offsets;
  }
}
