/**
 * How far a process has read each room file: one number per name id in a typed
 * array (8 bytes a room) instead of a Map keyed by a copy of each name. A room
 * not read yet is at 0. Pure.
 */
import { NameTable } from './name-table';

export class RoomOffsets {
  private values: Float64Array;

  /** `values` (per name id) is taken over, not copied. */
  constructor(readonly names: NameTable = new NameTable(), values: Float64Array = new Float64Array(0)) {
    this.values = values;
  }

  get(room: string): number {
    const id = this.names.id(room);
    return id === undefined || id >= this.values.length ? 0 : this.values[id];
  }

  set(room: string, offset: number): void {
    const id = this.names.intern(room);
    if (id >= this.values.length) {
      const grown = new Float64Array(Math.max(16, Math.ceil((id + 1) * 1.5)));
      grown.set(this.values);
      this.values = grown;
    }
    this.values[id] = offset;
  }

  /** Rooms read past their start. */
  get size(): number {
    let n = 0;
    for (const v of this.values) if (v > 0) n++;
    return n;
  }

  /** A copy, one offset per id of the first `count` names. */
  snapshot(count = this.names.size): Float64Array {
    const out = new Float64Array(count);
    out.set(this.values.subarray(0, Math.min(count, this.values.length)));
    return out;
  }
}
