/**
 * A child's side of the IPC conversations with its primary that more than one kind
 * of child holds: liveness pings, workers' quota leases, metrics. The messages are
 * lib/common/ipc-message.ts's; each child reads them through its one IpcInbox.
 */
import type { IpcInbox, MetricsAnswer, Pong, QuotaAsk } from '../common/ipc-message';
import type { Grant, QuotaKind } from '../core/quota-leases';
import { collectProcessMetrics, processMetrics } from '../common/metrics';

/**
 * In a child, from its start: answer the primary's liveness pings, saying it is
 * loading until `serving()`, which also tells the primary at once (status shows
 * it up now, not a ping later). A loader yields often, so it answers throughout.
 */
export function answerPings(inbox: IpcInbox): { serving(): void } {
  let loading = true;
  const pong = (): void => void process.send?.({ type: 'pong', loading } satisfies Pong);
  inbox.on('ping', pong);
  return {
    serving: () => {
      loading = false;
      pong();
    },
  };
}

/** Wait this long for the primary's answer; then the call goes through (a primary that busy is the bigger problem). */
const QUOTA_ANSWER_MS = 2_000;

/** In a worker: asks the primary's ledger over IPC (a worker without a primary is granted a token). */
export function askPrimaryForQuota(inbox: IpcInbox): (kind: QuotaKind, key: string, want: number, unspent: number) => Promise<Grant> {
  const waiting = new Map<number, (g: Grant) => void>();
  let next = 0;
  inbox.on('quota-grant', (msg) => {
    waiting.get(msg.id)?.({ tokens: Number(msg.tokens) || 0, waitMs: Number(msg.waitMs) || 0 });
    waiting.delete(msg.id);
  });
  return (kind, key, want, unspent) =>
    new Promise((resolve) => {
      const id = next++;
      const timer = setTimeout(() => waiting.get(id)?.({ tokens: 1, waitMs: 0 }), QUOTA_ANSWER_MS);
      waiting.set(id, (g) => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(g);
      });
      if (process.send) process.send({ type: 'quota', id, kind, key, want, unspent } satisfies QuotaAsk);
      else waiting.get(id)?.({ tokens: 1, waitMs: 0 });
    });
}

/** In a child, from its start: report the default process metrics, and answer the primary's asks for its metrics. */
export function answerMetricsAsks(inbox: IpcInbox): void {
  collectProcessMetrics();
  inbox.on('metrics-ask', (msg) => {
    void processMetrics().then((metrics) => process.send?.({ type: 'metrics', id: Number(msg.id), metrics } satisfies MetricsAnswer));
  });
}
