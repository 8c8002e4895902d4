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

/** The wire carries the logical counter as a uint32 (protos/ftchat.proto): it never goes past this. */
export const MAX_LOGICAL = 0xffff_ffff;

export function compareHlc(a: Hlc, b: Hlc): number {
  return a.wall - b.wall || a.logical - b.logical;
}

export class HybridClock {
  private last: Hlc = ZERO_HLC;

  constructor(private readonly physical: () => number = Date.now) {}

  /** The timestamp for a new local event. */
  now(): Hlc {
    const pt = this.physical();
    this.last = pt > this.last.wall ? { wall: pt, logical: 0 } : after(this.last.wall, this.last.logical);
    return this.last;
  }

  /** Take in a timestamp seen on an event from elsewhere, so later local events sort after it. */
  observe(remote: Hlc): Hlc {
    const pt = this.physical();
    const wall = Math.max(pt, this.last.wall, remote.wall);
    if (wall === this.last.wall && wall === remote.wall) this.last = after(wall, Math.max(this.last.logical, remote.logical));
    else if (wall === this.last.wall) this.last = after(wall, this.last.logical);
    else if (wall === remote.wall) this.last = after(wall, remote.logical);
    else this.last = { wall, logical: 0 };
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

/**
 * The next timestamp after (wall, logical). A counter at the top of its range moves
 * the wall on by 1 ms instead: a counter past uint32 would reach the peers cut short,
 * and they would store the event under another key than its origin did.
 */
function after(wall: number, logical: number): Hlc {
  return logical >= MAX_LOGICAL ? { wall: wall + 1, logical: 0 } : { wall, logical: logical + 1 };
}
