/**
 * A number per name, in a typed array indexed by name id (8 bytes a name) instead
 * of a Map keyed by a copy of each name; a name never set is at 0. How far a process
 * has read each room file, and how many bytes each user has stored. Pure.
 */
import { NameTable } from './name-table';

export class NameNumbers {
  private values: Float64Array;

  /** `values` (per name id) is taken over, not copied. */
  constructor(readonly names: NameTable = new NameTable(), values: Float64Array = new Float64Array(0)) {
    this.values = values;
  }

  get(name: string): number {
    const id = this.names.id(name);
    return id === undefined || id >= this.values.length ? 0 : this.values[id];
  }

  set(name: string, value: number): void {
    const id = this.names.intern(name);
    if (id >= this.values.length) {
      const grown = new Float64Array(Math.max(16, Math.ceil((id + 1) * 1.5)));
      grown.set(this.values);
      this.values = grown;
    }
    this.values[id] = value;
  }

  add(name: string, delta: number): void {
    this.set(name, this.get(name) + delta);
  }

  /** Names whose number is not 0. */
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
