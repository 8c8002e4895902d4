/**
 * The typed messages between a machine's primary and its children (node IPC) that
 * more than one kind of child speaks: liveness pings and their answers, the
 * replicator's clock offsets, workers' quota leases, and metrics. Doorbells have their own
 * module (doorbell.ts).
 */
import { isMessageOf } from '../common/ipc-message';
import { QUOTA_KINDS, type Grant, type QuotaKind } from '../core/quota-leases';
import { collectProcessMetrics, processMetrics, type ProcessMetrics } from '../common/metrics';

/** A child's answer to a ping; `loading` while it reads the machine's state and does not serve yet. */
export interface Pong {
  type: 'pong';
  loading?: boolean;
}

/**
 * In a child, from its start: answer the primary's liveness pings, saying it is
 * loading until `serving()`, which also tells the primary at once (status shows
 * it up now, not a ping later). A loader yields often, so it answers throughout.
 */
export function answerPings(): { serving(): void } {
  let loading = true;
  const pong = (): void => void process.send?.({ type: 'pong', loading } satisfies Pong);
  process.on('message', (msg: unknown) => {
    if (isMessageOf(msg, 'ping')) pong();
  });
  return {
    serving: () => {
      loading = false;
      pong();
    },
  };
}

/** What the replicator tells its primary (IPC): each peer's last measured clock offset from ours. */
export interface ClockOffsets {
  type: 'clock';
  offsets: Record<string, number>;
}

export function isClockOffsets(msg: unknown): msg is ClockOffsets {
  return isMessageOf<ClockOffsets>(msg, 'clock') && typeof msg.offsets === 'object' && msg.offsets !== null;
}

/** A worker asks its primary for a lease of the machine's quota tokens (see core/quota-leases). */
export interface QuotaAsk {
  type: 'quota';
  id: number;
  kind: QuotaKind;
  key: string;
  want: number;
}

/** The primary's answer to a QuotaAsk. */
export interface QuotaAnswer extends Grant {
  type: 'quota-grant';
  id: number;
}

export function isQuotaAsk(msg: unknown): msg is QuotaAsk {
  return isMessageOf<QuotaAsk>(msg, 'quota') && (QUOTA_KINDS as readonly string[]).includes(msg.kind) && typeof msg.key === 'string' && typeof msg.id === 'number' && typeof msg.want === 'number';
}

/** Wait this long for the primary's answer; then the call goes through (a primary that busy is the bigger problem). */
const QUOTA_ANSWER_MS = 2_000;

/** In a worker: asks the primary's ledger over IPC (a worker without a primary is granted a token). */
export function askPrimaryForQuota(): (kind: QuotaKind, key: string, want: number) => Promise<Grant> {
  const waiting = new Map<number, (g: Grant) => void>();
  let next = 0;
  process.on('message', (msg: unknown) => {
    if (!isMessageOf<QuotaAnswer>(msg, 'quota-grant')) return;
    waiting.get(msg.id)?.({ tokens: Number(msg.tokens) || 0, waitMs: Number(msg.waitMs) || 0 });
    waiting.delete(msg.id);
  });
  return (kind, key, want) =>
    new Promise((resolve) => {
      const id = next++;
      const timer = setTimeout(() => waiting.get(id)?.({ tokens: 1, waitMs: 0 }), QUOTA_ANSWER_MS);
      waiting.set(id, (g) => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(g);
      });
      if (process.send) process.send({ type: 'quota', id, kind, key, want } satisfies QuotaAsk);
      else waiting.get(id)?.({ tokens: 1, waitMs: 0 });
    });
}

/** The primary asks each child for its metrics (a scrape of the machine's endpoint). */
export interface MetricsAsk {
  type: 'metrics-ask';
  id: number;
}

/** A child's metrics, as prom-client's getMetricsAsJSON gives them. */
export interface MetricsAnswer {
  type: 'metrics';
  id: number;
  metrics: ProcessMetrics;
}

export function isMetricsAnswer(msg: unknown): msg is MetricsAnswer {
  return isMessageOf<MetricsAnswer>(msg, 'metrics') && typeof msg.id === 'number' && Array.isArray(msg.metrics);
}

/** In a child, from its start: report the default process metrics, and answer the primary's asks for its metrics. */
export function answerMetricsAsks(): void {
  collectProcessMetrics();
  process.on('message', (msg: unknown) => {
    if (!isMessageOf<MetricsAsk>(msg, 'metrics-ask')) return;
    void processMetrics().then((metrics) => process.send?.({ type: 'metrics', id: Number(msg.id), metrics } satisfies MetricsAnswer));
  });
}
