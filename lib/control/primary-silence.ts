/**
 * A guardian's own clock on its primary's death: heard (a beat, a Watch answer)
 * keeps it alive; the verdict "died", or silence past the failure detector's
 * timeout, makes it dead from the first look that sees it so.
 * Pure: fed the monotonic time.
 */
import { FailureDetector, type FailureDetectorOptions } from './failure-detector';

const PRIMARY = 'primary';

export class PrimarySilence {
  private readonly detector: FailureDetector;
  /** When we first saw the primary dead (undefined while it is not). */
  private deadSince: number | undefined;

  constructor(options: FailureDetectorOptions, now: number) {
    this.detector = new FailureDetector(options);
    this.detector.add(PRIMARY, now);
  }

  heard(now: number): void {
    this.detector.heartbeat(PRIMARY, now);
    this.deadSince = undefined;
  }

  died(): void {
    this.detector.markDead(PRIMARY);
  }

  /** Look at the primary as of `now`: a death starts its clock, a primary not dead stops it. */
  look(now: number): void {
    if (this.detector.status(PRIMARY, now) !== 'dead') this.deadSince = undefined;
    else this.deadSince ??= now;
  }

  /** How long the primary has been dead as of the last look; undefined while it is not. */
  deadForMs(now: number): number | undefined {
    return this.deadSince === undefined ? undefined : now - this.deadSince;
  }

  /** How long since the primary was last heard. */
  silentMs(now: number): number {
    return this.detector.ageMs(PRIMARY, now) ?? 0;
  }
}
