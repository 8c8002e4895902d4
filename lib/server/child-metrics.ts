/**
 * The primary's side of a scrape: asks each connected child for its metrics (IPC)
 * and gathers the answers, so the machine's endpoint can sum them with its own.
 */
import type { Worker } from 'node:cluster';
import type { ProcessMetrics } from '../common/metrics';
import type { MetricsAnswer, MetricsAsk } from '../common/ipc-message';

/** A child busier than this (a loader, a long commit) is left out of one scrape rather than stall it. */
const METRICS_ANSWER_MS = 1_000;

export class ChildMetrics {
  private next = 0;
  private readonly waiting = new Map<number, (m: ProcessMetrics) => void>();

  constructor(private readonly children: () => Worker[]) {}

  gather(): Promise<ProcessMetrics[]> {
    const id = this.next++;
    const asked = this.children().filter((w) => w.isConnected());
    return new Promise((resolve) => {
      const got: ProcessMetrics[] = [];
      const done = (): void => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(got);
      };
      const timer = setTimeout(done, METRICS_ANSWER_MS);
      this.waiting.set(id, (m) => {
        got.push(m);
        if (got.length >= asked.length) done();
      });
      for (const w of asked) w.send({ type: 'metrics-ask', id } satisfies MetricsAsk);
      if (asked.length === 0) done();
    });
  }

  answered(msg: MetricsAnswer): void {
    this.waiting.get(msg.id)?.(msg.metrics);
  }
}
