/**
 * A start standing by while a healthy primary runs (lib/control/takeover.ts): when
 * to ask the running primary whether it lives, every `standByEveryMs` and at once
 * (then every tick until it answers) after our connection to it broke, and when a
 * warm standby forks its workers ahead. Pure, fed one monotonic clock.
 */
import type { TimingPolicy } from './timing-policy';

export interface StandingByOptions {
  /** The machine keeps a warm standby: fork the workers ahead once, after `standby.warmAfterMs`. */
  warm?: boolean;
  timing: Pick<TimingPolicy, 'standByEveryMs' | 'standByAnswerMs' | 'standby'>;
}

export type StandingByAction = { ask: { timeoutMs: number } } | { warmUp: Record<string, never> };

export class StandingBy {
  private asking = false;
  /** Our connection to the running primary broke and it has not answered since. */
  private lost = false;
  private askAt = Infinity;
  /** Infinity: not yet due, or done. */
  private warmAt = Infinity;
  private warmed = false;

  constructor(private readonly o: StandingByOptions) {}

  enter(now: number): void {
    this.asking = false;
    this.lost = false;
    // Not at once: a standby started beside a recovery must not take the CPU from it.
    if (this.o.warm && !this.warmed) this.warmAt = Math.min(this.warmAt, now + this.o.timing.standby.warmAfterMs);
    this.askAt = now + this.o.timing.standByEveryMs;
  }

  /** The answer to our question; true when the primary did not answer (the caller looks at the machine), false when it did or none was asked. */
  answered(alive: boolean, now: number): boolean {
    if (!this.asking) return false;
    this.asking = false;
    if (alive) this.lost = false;
    this.askAt = this.lost ? now : now + this.o.timing.standByEveryMs;
    return !alive;
  }

  /** Ask now rather than at the next heartbeat (a question under way will answer). */
  runningLost(now: number): StandingByAction[] {
    this.lost = true;
    this.askAt = now;
    return this.tick(now);
  }

  tick(now: number): StandingByAction[] {
    const warmUp: StandingByAction[] = [];
    if (now >= this.warmAt) {
      this.warmed = true;
      this.warmAt = Infinity;
      warmUp.push({ warmUp: {} });
    }
    if (now < this.askAt || this.asking) return warmUp;
    this.asking = true;
    this.askAt = Infinity;
    return [...warmUp, { ask: { timeoutMs: this.o.timing.standByAnswerMs } }];
  }
}
