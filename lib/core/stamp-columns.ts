/**
 * Per slot of a compact table (the follow graph's pairs, the key table's rooms),
 * the stamp of the event that decided it: its hybrid clock and its origin, which
 * together identify an event and order events alike on every machine. Typed
 * arrays, 14 bytes a slot; origins by number (at most 65,536). Pure.
 */
import type { Hlc } from './hlc';
import { NameTable } from './name-table';

/** The columns as plain arrays, for a checkpoint. */
export interface StampArrays {
  origins: string[];
  wall: Float64Array<ArrayBuffer>;
  logical: Uint32Array<ArrayBuffer>;
  origin: Uint16Array<ArrayBuffer>;
}

export class StampColumns {
  private wall: Float64Array<ArrayBuffer>;
  private logical: Uint32Array<ArrayBuffer>;
  private origin: Uint16Array<ArrayBuffer>;

  /** `table` names the owner in errors; `origins`' numbers are the `origin` column's. */
  constructor(
    private readonly table: string,
    size: number,
    private readonly origins = new NameTable(),
  ) {
    this.wall = new Float64Array(size);
    this.logical = new Uint32Array(size);
    this.origin = new Uint16Array(size);
  }

  /** Columns over a snapshot's arrays, used in place (no copy). */
  static from(table: string, s: StampArrays, origins: NameTable): StampColumns {
    const c = new StampColumns(table, 0, origins);
    c.wall = s.wall;
    c.logical = s.logical;
    c.origin = s.origin;
    return c;
  }

  set(slot: number, hlc: Hlc, origin: string): void {
    const o = this.origins.intern(origin);
    if (o > 0xffff) throw new Error(`${this.table}: more than 65,536 origins`); // a Uint16Array holds them
    this.wall[slot] = hlc.wall;
    this.logical[slot] = hlc.logical;
    this.origin[slot] = o;
  }

  hlcAt(slot: number): Hlc {
    return { wall: this.wall[slot], logical: this.logical[slot] };
  }

  originAt(slot: number): string {
    return this.origins.name(this.origin[slot]);
  }

  /** Negative if the slot's stamp sorts before (hlc, origin), positive if after, 0 if it is that. */
  compare(slot: number, hlc: Hlc, origin: string): number {
    const byClock = this.wall[slot] - hlc.wall || this.logical[slot] - hlc.logical;
    if (byClock !== 0) return byClock;
    const mine = this.originAt(slot);
    return mine < origin ? -1 : mine > origin ? 1 : 0;
  }

  /** Grows (or cuts) every column to `size` slots, keeping what fits. */
  resize(size: number): void {
    this.wall = resized(this.wall, size);
    this.logical = resized(this.logical, size);
    this.origin = resized(this.origin, size);
  }

  /** The first `n` slots, copied. */
  slice(n: number): StampArrays {
    return { origins: this.origins.slice(), wall: this.wall.slice(0, n), logical: this.logical.slice(0, n), origin: this.origin.slice(0, n) };
  }
}

type Typed = Int32Array<ArrayBuffer> | Float64Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | Uint16Array<ArrayBuffer> | Uint8Array<ArrayBuffer>;

/** A copy of `a` with `size` elements, those past `a`'s set to `fill`. */
export function resized<T extends Typed>(a: T, size: number, fill = 0): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  if (fill !== 0) b.fill(fill as never);
  b.set(a.length > size ? (a.subarray(0, size) as T) : (a as never));
  return b;
}
