/**
 * A primary's decision to keep a warm standby for its machine: a second `fbs start`
 * that stands by (Takeover's standing-by phase) with its workers forked ahead, so a
 * killed primary is followed at once by one whose modules are loaded, not by two
 * node starts in a row. The primary looks every `lookEveryMs` for a live standby of
 * its machine; once its own first worker serves (the standby's start must not take
 * the CPU from the users' recovery) and none is found, it spawns one. A standby that
 * keeps dying gets its next spawn after a growing back-off (crashBackoff); a look
 * that finds one alive `healthyAfterMs` after our last spawn resets it.
 *
 * The guardians stay what revives the primary when no standby does: the standby is a
 * faster path to the same Takeover, fenced by the same admin port, lock and term.
 *
 * Pure: no I/O, no timers. Fed `(input, now)`; returns actions for the shell
 * (lib/supervision/standby-keeper.ts).
 */
import { backoffMs, crashBackoff } from '../core/backoff';
import type { Supervisor, Tick } from './supervisor';

export type StandbyInput =
  /** What a look found: live standbys of the machine, and whether one of our workers serves. */
  | { kind: 'looked'; standbys: number; serving: boolean }
  /** The primary stops: no standby is spawned any more (a standing-by one sees the clean stop and ends). */
  | { kind: 'stopping' }
  | Tick;

export type StandbyAction = { look: Record<string, never> } | { spawn: { failures: number } };

export interface StandbySlotOptions {
  lookEveryMs: number;
  /** A spawned standby alive this long was healthy: the back-off starts again. */
  healthyAfterMs: number;
  /** The longest wait between spawns of a standby that keeps dying. */
  maxRespawnMs: number;
}

export class StandbySlot implements Supervisor<StandbyInput, StandbyAction> {
  private nextLookAt: number;
  private stopped = false;
  /** Spawns in a row whose standby was not seen alive past healthyAfterMs. */
  private failures = 0;
  /** Our last spawn, until a look finds a standby alive past the healthy mark after it. */
  private spawnedAt = -Infinity;
  private spawnDueAt = -Infinity;

  constructor(private readonly options: StandbySlotOptions, now: number) {
    this.nextLookAt = now + options.lookEveryMs;
  }

  step(input: StandbyInput, now: number): StandbyAction[] {
    if (this.stopped) return [];
    switch (input.kind) {
      case 'tick':
        if (now < this.nextLookAt) return [];
        this.nextLookAt = now + this.options.lookEveryMs;
        return [{ look: {} }];
      case 'looked':
        return this.looked(input.standbys, input.serving, now);
      case 'stopping':
        this.stopped = true;
        return [];
    }
  }

  private looked(standbys: number, serving: boolean, now: number): StandbyAction[] {
    if (standbys > 0) {
      // Seen alive past the healthy mark: the last spawn worked.
      if (now - this.spawnedAt >= this.options.healthyAfterMs) {
        this.failures = 0;
        this.spawnedAt = -Infinity;
      }
      return [];
    }
    if (!serving || now < this.spawnDueAt) return [];
    // The last one we spawned was never seen alive past the healthy mark: it died young.
    if (this.spawnedAt > -Infinity) this.failures++;
    this.spawnedAt = now;
    this.spawnDueAt = now + backoffMs(this.failures + 1, crashBackoff(this.options.maxRespawnMs));
    return [{ spawn: { failures: this.failures } }];
  }
}
