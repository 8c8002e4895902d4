/**
 * The Prometheus metrics (prom-client), named once here. Every server process
 * registers the same set; a worker's and the replicator's values go to the
 * machine's primary when it asks (IPC), and the primary sums them with its own
 * (prom-client's AggregatorRegistry.aggregate), so a machine is one scrape target.
 * docs/operations.md says what each one means.
 */
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, register, type MetricObjectWithValues, type MetricValue } from 'prom-client';

export type ProcessMetrics = MetricObjectWithValues<MetricValue<string>>[];

/** Seconds: from a disk's 0.1 ms to a stalled one's seconds. */
const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export const metrics = {
  posts: new Counter({ name: 'ftchat_posts_total', help: 'Posts stored (fsynced) and acknowledged by this machine' }),
  postAck: new Histogram({ name: 'ftchat_post_ack_seconds', help: "From a post's arrival at a worker to its acknowledgement (stored, fsynced)", buckets: SECONDS }),
  deliveries: new Counter({ name: 'ftchat_deliveries_total', help: 'Live events written to chat streams (one per event and stream)' }),
  streams: new Gauge({ name: 'ftchat_streams', help: 'Open chat streams' }),
  streamDrops: new Counter({ name: 'ftchat_stream_drops_total', help: 'Chat streams ended because their reader was too slow' }),
  commitBatch: new Histogram({ name: 'ftchat_commit_batch_events', help: 'Events written by one group commit (local posts or replicated events)', buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000] }),
  fsync: new Histogram({ name: 'ftchat_fsync_seconds', help: "fdatasync of a group commit's write-ahead-log record", buckets: SECONDS }),
  replicationLag: new Gauge({ name: 'ftchat_replication_lag_events', help: 'Events this machine holds that it has not yet sent to the peer', labelNames: ['peer'] }),
  peerLinkUp: new Gauge({ name: 'ftchat_peer_link_up', help: 'Whether this machine pulls a replication stream from the peer (1) or not (0)', labelNames: ['peer'] }),
  clockOffset: new Gauge({ name: 'ftchat_clock_offset_seconds', help: "The peer's clock minus this machine's, as last measured", labelNames: ['peer'] }),
  restarts: new Counter({ name: 'ftchat_restarts_total', help: "Starts of this machine's processes after their first, across primaries", labelNames: ['role'] }),
  masterTerm: new Gauge({ name: 'ftchat_master_term', help: "The master's term (on the master machine; 0 on the others)" }),
  elections: new Counter({ name: 'ftchat_elections_total', help: "Elections among this machine's guardians that started a new primary" }),
  standbys: new Gauge({ name: 'ftchat_standbys', help: "Warm standbys found standing by to take over from this machine's primary at its last look (the master machine)" }),
  quotaRefusals: new Counter({ name: 'ftchat_quota_refusals_total', help: 'Calls refused by a quota', labelNames: ['kind'] }),
};

const refreshers: (() => void)[] = [];

/** `fn` sets gauges from state the process keeps anyway, just before each collection. */
export function refreshOnCollect(fn: () => void): void {
  refreshers.push(fn);
}

/** prom-client samples the event loop's delay this often: each sample wakes the loop (its default, 10 ms, is 100 wake-ups a second in an idle process). */
export const LOOP_SAMPLE_MS = 50;

/** A server process reports the default process metrics (CPU, memory, event loop, GC) too. */
export function collectProcessMetrics(): void {
  collectDefaultMetrics({ eventLoopMonitoringPrecision: LOOP_SAMPLE_MS });
}

/** This process's metrics, as the primary sums them. */
export function processMetrics(): Promise<ProcessMetrics> {
  for (const refresh of refreshers) refresh();
  return register.getMetricsAsJSON();
}

/** The machine's exposition: the primary's own metrics summed with its children's. */
export async function machineMetrics(children: ProcessMetrics[]): Promise<string> {
  return AggregatorRegistry.aggregate([await processMetrics(), ...children]).metrics();
}

/** Sets a counter kept elsewhere (a file, a ledger) to its current total. */
export function setCounter(counter: Counter<string>, value: number, labels: Record<string, string> = {}): void {
  counter.remove(labels);
  counter.inc(labels, value);
}

export const METRICS_CONTENT_TYPE = register.contentType;
