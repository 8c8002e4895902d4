/**
 * The one back-off rule, for everything that retries something that keeps failing:
 * the first `immediate` failures are retried at once, then after `firstMs`, doubling
 * with each further failure, up to `capMs`. Callers count failures (1 for the first)
 * and reset the count once the thing works again. grpc-js's own reconnect back-off
 * is set from the same shape (reconnectOptions), so a channel and the code around
 * it never disagree about pacing.
 */
export interface Backoff {
  firstMs: number;
  capMs: number;
  /** Failures retried at once before the back-off starts (default 0). */
  immediate?: number;
}

export function backoffMs(failures: number, { firstMs, capMs, immediate = 0 }: Backoff): number {
  if (failures <= immediate) return 0;
  return Math.min(firstMs * 2 ** (failures - immediate - 1), capMs);
}

/**
 * A crash or a broken stream: retried at once, then 400 ms, 800 ms, ... up to `capMs`.
 * The client's stream resumes and the primary's re-forks of a crash-looping child use it.
 */
export function crashBackoff(capMs: number): Backoff {
  return { immediate: 1, firstMs: 400, capMs };
}

/** grpc-js channel options that make its reconnects follow `b` (grpc-js defaults to 1 s, growing to 120 s). */
export function reconnectOptions(b: Backoff): Record<string, number> {
  return {
    'grpc.initial_reconnect_backoff_ms': b.firstMs,
    'grpc.max_reconnect_backoff_ms': b.capMs,
  };
}
