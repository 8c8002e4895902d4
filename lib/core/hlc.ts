/**
 * Hybrid logical clock (Kulkarni et al., 2014). Timestamps follow causality
 * (a reply always sorts after what it answers) yet stay close to wall time, and a
 * clock that is hours off or jumps backwards never makes time run backwards.
 * Pure: the physical clock is injected, so tests drive it by hand.
 */
export interface Hlc {
  wall: number;
  logical: number;
}

export const ZERO_HLC: Hlc = Object.freeze({ wall: 0, logical: 0 });

export function compareHlc(a: Hlc, b: Hlc): number {
  return a.wall - b.wall || a.logical - b.logical;
}

export class HybridClock {
  private last: Hlc = ZERO_HLC;

  constructor(private readonly physical: () => number = Date.now) {}

  /** The timestamp for a new local event. */
  now(): Hlc {
    const pt = this.physical();
    this.last = pt > this.last.wall ? { wall: pt, logical: 0 } : { wall: this.last.wall, logical: this.last.logical + 1 };
    return this.last;
  }

  /** Take in a timestamp seen on an event from elsewhere, so later local events sort after it. */
  observe(remote: Hlc): Hlc {
    const pt = this.physical();
    const wall = Math.max(pt, this.last.wall, remote.wall);
    let logical = 0;
    if (wall === this.last.wall && wall === remote.wall) logical = Math.max(this.last.logical, remote.logical) + 1;
    else if (wall === this.last.wall) logical = this.last.logical + 1;
    else if (wall === remote.wall) logical = remote.logical + 1;
    this.last = { wall, logical };
    return this.last;
  }

  /** How far `remote` runs ahead of our physical clock, in ms (negative: behind). */
  offsetOf(remote: Hlc): number {
    return remote.wall - this.physical();
  }

  current(): Hlc {
    return this.last;
  }
}
