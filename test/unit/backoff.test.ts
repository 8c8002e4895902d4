/**
 * The one back-off rule (lib/core/backoff.ts) that re-forks, stream resumes,
 * replication pulls, client attempts and grpc-js reconnects all follow.
 */
import t from 'tap';
import { backoffMs, crashBackoff, reconnectOptions } from '../../lib/core/backoff';

t.test('after the immediate retries, the delay starts at firstMs and doubles up to the cap', async (t) => {
  t.same([1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, { firstMs: 100, capMs: 1_000 })), [100, 200, 400, 800, 1_000, 1_000]);
  t.same([0, 1, 2, 3, 4, 5].map((n) => backoffMs(n, crashBackoff(2_000))), [0, 0, 400, 800, 1_600, 2_000], 'a crash is retried at once first');
});

t.test("grpc-js's reconnects follow the same shape", async (t) => {
  t.same(reconnectOptions({ firstMs: 50, capMs: 250 }), { 'grpc.initial_reconnect_backoff_ms': 50, 'grpc.max_reconnect_backoff_ms': 250 });
});
