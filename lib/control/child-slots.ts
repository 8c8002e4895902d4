/**
 * A primary's children slot by slot: the child running in each (its pid, since
 * when, whether it ever answered, whether we had it signalled), when it last
 * answered a ping, and each slot's restarts and crash loop. What to do about them
 * is ChildSupervisor's call.
 *
 * Liveness sits on the FailureDetector: a child is heard when it answers a ping; a
 * child that has not served yet (it is loading, and answers "loading") keeps its
 * startup allowance. A child is not answering (`dead`) once silent past the failure
 * timeout plus a ping, or past STARTUP_ALLOWANCE_MS before it first served.
 *
 * Pure: fed the monotonic time.
 */
import { backoffMs, crashBackoff } from '../core/backoff';
import type { ChildSpec, ChildView } from './child-supervisor';
import { FailureDetector } from './failure-detector';
import { CHILD_PING_MS as PING_MS, HEALTHY_AFTER_MS, MAX_REFORK_DELAY_MS, notAnsweringAfterMs, STARTUP_ALLOWANCE_MS } from './timing-policy';

export interface RunningChild {
  pid: number;
  startedAt: number;
  answered: boolean;
  /** We had it signalled (killed as hung, or stopped to reload): a revival request finds it going. */
  killed: boolean;
}

export class ChildSlots {
  private readonly running = new Map<string, RunningChild>();
  private readonly detector: FailureDetector;
  /** Each slot's restarts in all, and its deaths in a row soon after their start (its crash loop). */
  private readonly restarts = new Map<string, { count: number; quick: number }>();

  constructor(
    private readonly specs: readonly ChildSpec[],
    deadAfterMs: number,
  ) {
    const dead = notAnsweringAfterMs(deadAfterMs);
    this.detector = new FailureDetector({
      heartbeatMs: PING_MS,
      suspectAfterMs: PING_MS + deadAfterMs / 2, // (unused: a child is answering or not)
      deadAfterMs: dead,
      startupGraceMs: Math.max(0, STARTUP_ALLOWANCE_MS - dead),
    });
  }

  specOf(key: string): ChildSpec {
    return this.specs.find((s) => s.key === key)!;
  }

  /** The child running in `key`'s slot, if any. */
  child(key: string): Readonly<RunningChild> | undefined {
    return this.running.get(key);
  }

  children(): IterableIterator<[string, Readonly<RunningChild>]> {
    return this.running.entries();
  }

  /** We had `key`'s child signalled. */
  signalled(key: string): void {
    const r = this.running.get(key);
    if (r) r.killed = true;
  }

  forked(key: string, pid: number, now: number): void {
    this.running.set(key, { pid, startedAt: now, answered: false, killed: false });
    this.detector.add(key, now);
  }

  /** `key`'s child answered a ping as `pid` (`loading` while it does not serve yet): whether it serves for the first time. */
  answered(key: string, pid: number, loading: boolean, now: number): boolean {
    const r = this.running.get(key);
    if (!r || r.pid !== pid) return false;
    const servedBefore = this.detector.started(key);
    r.answered = true;
    this.detector.heartbeat(key, now, !loading);
    return !servedBefore && !loading;
  }

  /** `key`'s child exited as `pid`: its slot is free (if it still held it); returns the child that ran there. */
  exited(key: string, pid: number): Readonly<RunningChild> | undefined {
    const r = this.running.get(key);
    if (r?.pid === pid) this.running.delete(key);
    return r;
  }

  /** One more restart of `key`'s slot after `child` died: the slot's restarts in all, and the crash loop's delay before the re-fork. */
  restart(key: string, child: Readonly<RunningChild> | undefined, now: number): { restarts: number; delayMs: number } {
    const before = this.restarts.get(key) ?? { count: 0, quick: 0 };
    const quick = child && now - child.startedAt < HEALTHY_AFTER_MS ? before.quick + 1 : 0;
    this.restarts.set(key, { count: before.count + 1, quick });
    return { restarts: before.count + 1, delayMs: backoffMs(quick, crashBackoff(MAX_REFORK_DELAY_MS)) };
  }

  notAnswering(key: string, now: number): boolean {
    return this.detector.status(key, now) === 'dead';
  }

  /** How long since `key`'s child last answered (or was forked). */
  silentMs(key: string, now: number): number {
    return this.detector.ageMs(key, now) ?? 0;
  }

  view(now: number): ChildView[] {
    return [...this.running].map(([key, r]) => {
      const spec = this.specOf(key);
      return {
        role: spec.role,
        slot: spec.slot,
        pid: r.pid,
        restarts: this.restarts.get(key)?.count ?? 0,
        heartbeatAgeMs: r.answered ? Math.round(this.silentMs(key, now)) : -1,
        state: this.detector.started(key) ? 'up' : 'starting',
      };
    });
  }
}
