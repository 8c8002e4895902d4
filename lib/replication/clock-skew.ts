/**
 * Reports peers whose clocks are further off than the configured bound. Order
 * never depends on wall clocks (the hybrid logical clock takes care of that), but
 * an operator must hear about a machine hours off. Two signs: events stamped
 * ahead of our physical clock, and the peer's own clock reading sent with each
 * live batch. Rate-limited per peer. Pure: the clock is injected.
 */
import type { ChatEvent } from '../core/event';

export interface ClockReport {
  peer: string;
  boundMs: number;
  /** How far the newest event's timestamp runs ahead of our physical clock. */
  eventAheadMs: number;
  /** The peer's clock minus ours, less the transit time (live batches only). */
  peerClockOffsetMs: number | null;
}

export class ClockSkewMonitor {
  private readonly lastReport = new Map<string, number>();
  private readonly measured = new Map<string, number>();

  constructor(
    private readonly boundMs: number,
    private readonly now: () => number = Date.now,
    private readonly everyMs = 10_000,
  ) {}

  /** A report if this batch shows the peer beyond the bound and it was not reported lately. */
  check(peer: string, events: ChatEvent[], sentAtMs: number | null): ClockReport | null {
    const now = this.now();
    let newest = 0;
    for (const e of events) newest = Math.max(newest, e.hlc.wall);
    const eventAheadMs = events.length > 0 ? newest - now : 0;
    const peerClockOffsetMs = sentAtMs ? sentAtMs - now : null;
    if (peerClockOffsetMs !== null) this.measured.set(peer, peerClockOffsetMs);
    const beyond = eventAheadMs > this.boundMs || (peerClockOffsetMs !== null && Math.abs(peerClockOffsetMs) > this.boundMs);
    if (!beyond) return null;
    const last = this.lastReport.get(peer);
    if (last !== undefined && now - last < this.everyMs) return null;
    this.lastReport.set(peer, now);
    return { peer, boundMs: this.boundMs, eventAheadMs, peerClockOffsetMs };
  }

  /** The last measured offset of each peer's clock from ours, in ms (for `fbs status`). */
  offsets(): Record<string, number> {
    return Object.fromEntries(this.measured);
  }
}
