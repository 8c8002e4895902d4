/**
 * A deterministic simulated network for protocol tests: a fake clock, an event
 * queue, and message delivery with random delay (so reordering), loss,
 * duplication, partitions, killed nodes, and "false failures" (the message
 * arrives, yet the sender is told the send failed, as after a timed-out call).
 * Every random choice comes from one seeded generator, so a failing seed replays
 * exactly.
 */
import { rng } from './events';

export interface SimFaults {
  /** Chance a message silently vanishes. */
  lossRate: number;
  /** Chance a delivered message is delivered a second time. */
  duplicateRate: number;
  /** Chance a delivered message is also reported to the sender as failed. */
  falseFailureRate: number;
}

export interface SimNetworkOptions {
  seed: number;
  faults?: Partial<SimFaults>;
  minDelayMs?: number;
  maxDelayMs?: number;
  /** How long a send to a dead or cut-off node takes to be reported failed. */
  failAfterMs?: number;
}

export interface SimHandlers<M> {
  deliver(to: string, msg: M, from: string): void;
  failed(from: string, to: string, msg: M): void;
}

const CALM: SimFaults = { lossRate: 0, duplicateRate: 0, falseFailureRate: 0 };

interface Scheduled {
  at: number;
  seq: number;
  run: () => void;
}

export class SimNetwork<M> {
  now = 0;
  readonly random: () => number;
  faults: SimFaults;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly failAfterMs: number;
  private readonly queue: Scheduled[] = [];
  private seq = 0;
  private readonly killed = new Set<string>();
  private readonly cuts = new Set<string>();

  constructor(options: SimNetworkOptions, private readonly handlers: SimHandlers<M>) {
    this.random = rng(options.seed);
    this.faults = { ...CALM, ...options.faults };
    this.minDelayMs = options.minDelayMs ?? 1;
    this.maxDelayMs = options.maxDelayMs ?? 10;
    this.failAfterMs = options.failAfterMs ?? 2 * this.maxDelayMs;
  }

  /** Run `fn` at time `at` (events at the same time run in the order scheduled). */
  at(at: number, fn: () => void): void {
    const item = { at: Math.max(at, this.now), seq: this.seq++, run: fn };
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const q = this.queue[mid];
      if (q.at < item.at || (q.at === item.at && q.seq < item.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, item);
  }

  /** Run `fn` every `periodMs` from `start` until `end` (one pending event at a time). */
  every(periodMs: number, start: number, end: number, fn: () => void): void {
    if (start > end) return;
    this.at(start, () => {
      fn();
      this.every(periodMs, start + periodMs, end, fn);
    });
  }

  send(from: string, to: string, msg: M): void {
    if (!this.reachable(from, to)) return this.reportFailure(from, to, msg);
    if (this.random() < this.faults.lossRate) return;
    const copies = this.random() < this.faults.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.at(this.now + this.delay(), () => {
        if (this.killed.has(to)) this.reportFailure(from, to, msg);
        else this.handlers.deliver(to, msg, from);
      });
    }
    if (this.random() < this.faults.falseFailureRate) this.reportFailure(from, to, msg);
  }

  kill(node: string): void {
    this.killed.add(node);
  }

  isAlive(node: string): boolean {
    return !this.killed.has(node);
  }

  /** Cut the link between a and b both ways (messages fail after failAfterMs). */
  partition(a: string, b: string): void {
    this.cuts.add(linkKey(a, b));
  }

  heal(): void {
    this.cuts.clear();
  }

  calm(): void {
    this.faults = { ...CALM };
  }

  /** Both ends alive and not cut apart. */
  reachable(a: string, b: string): boolean {
    return this.isAlive(a) && this.isAlive(b) && !this.cuts.has(linkKey(a, b));
  }

  /** Run every event up to and including time `end`. */
  runUntil(end: number): void {
    while (this.queue.length > 0 && this.queue[0].at <= end) {
      const next = this.queue.shift()!;
      this.now = next.at;
      next.run();
    }
    this.now = Math.max(this.now, end);
  }

  private delay(): number {
    return this.minDelayMs + Math.floor(this.random() * (this.maxDelayMs - this.minDelayMs + 1));
  }

  private reportFailure(from: string, to: string, msg: M): void {
    this.at(this.now + this.failAfterMs, () => {
      if (this.isAlive(from)) this.handlers.failed(from, to, msg);
    });
  }
}

function linkKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
