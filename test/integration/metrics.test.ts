/**
 * Each machine serves Prometheus /metrics (prom-client) at the metricsUrl that
 * `fbs status --json` names, its workers' and replicator's metrics summed by its
 * primary: the counts move as posts flow, a re-forked worker is counted as a
 * restart, and replication lag rises while a peer is down and falls once it is back,
 * while the link from it reads down.
 */
import t from 'tap';
import type { Event__Output } from '../../lib/gen/ftchat/Event';
import { call, ownConnection, RAISED_QUOTAS, startCluster, type TestCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { metricSamples } from '../../lib/common/metrics-text';
import { loadConfig } from '../../lib/common/config';
import { scrapeMachine } from '../../lib/admin/scrape';

const REQUIRED = [
  'ftchat_posts_total', 'ftchat_post_ack_seconds', 'ftchat_deliveries_total', 'ftchat_streams', 'ftchat_stream_drops_total',
  'ftchat_commit_batch_events', 'ftchat_fsync_seconds', 'ftchat_replication_lag_events', 'ftchat_peer_link_up', 'ftchat_clock_offset_seconds',
  'ftchat_restarts_total', 'ftchat_master_term', 'ftchat_elections_total', 'ftchat_standbys', 'ftchat_quota_refusals_total',
  'process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds',
];

let cluster: TestCluster;
let urls: Record<string, string>;
t.before(async () => {
  cluster = await startCluster({ machines: ['m1', 'm2'], workers: 2, guardians: 1, quotas: RAISED_QUOTAS });
  const status = await cluster.status();
  urls = Object.fromEntries(Object.entries(status.machines).map(([m, v]) => [m, v.metricsUrl]));
});
t.teardown(() => cluster.teardown());

/** One scrape of `machine`, as name{labels} -> value. */
async function scrape(machine: string): Promise<Map<string, number>> {
  const res = await fetch(urls[machine]);
  if (res.status !== 200) throw new Error(`${urls[machine]}: HTTP ${res.status}`);
  return metricSamples(await res.text());
}

const value = (s: Map<string, number>, key: string): number => s.get(key) ?? 0;

t.test('fbs status --json names each machine\'s metricsUrl, plain HTTP on loopback, serving every listed metric', async (t) => {
  t.match(urls.m1, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  t.not(urls.m1, urls.m2);
  const text = await (await fetch(urls.m1)).text();
  t.same(REQUIRED.filter((name) => !text.includes(`# TYPE ${name} `)), [], 'no metric missing');
  t.equal(value(await scrape('m1'), 'ftchat_master_term'), (await cluster.status()).master?.term, "the master's term on the master machine");
  t.equal(value(await scrape('m2'), 'ftchat_master_term'), 0, '0 on the others');
  t.equal((await fetch(urls.m1.replace('/metrics', '/'))).status, 404, 'nothing else is served');
});

t.test('posts, acks, deliveries, commits and fsyncs move as posts flow, summed over the workers', async (t) => {
  const listener = ownConnection(t, cluster.address('m1'));
  await call(listener, 'Connect', { user: 'listener' });
  // Four connections: node:cluster hands them to the two workers in turn.
  const speakers = [0, 1, 2, 3].map(() => ownConnection(t, cluster.address('m1')));
  await call(speakers[0], 'Connect', { user: 'speaker' });
  await call(listener, 'Join', { user: 'listener', room: 'speaker' });
  const tl = await call(listener, 'Timeline', { user: 'listener' });
  const seen: string[] = [];
  const stream = listener.Subscribe({ user: 'listener', cursor: tl.cursor });
  stream.on('data', (item: { event: Event__Output | null }) => item.event?.kind === 'post' && seen.push(item.event.id));
  stream.on('error', () => undefined);
  t.teardown(() => stream.cancel());
  await waitFor('the stream is open', async () => value(await scrape('m1'), 'ftchat_streams') === 1);

  const before = await scrape('m1');
  const POSTS = 20;
  for (let i = 0; i < POSTS; i++) await call(speakers[i % 4], 'Post', { user: 'speaker', id: `m-${i}`, text: `post ${i}` });
  await waitFor('every post delivered', () => seen.length === POSTS);
  const after = await waitFor('the deliveries counted', async () => {
    const s = await scrape('m1');
    return value(s, 'ftchat_deliveries_total') - value(before, 'ftchat_deliveries_total') >= POSTS && s;
  });
  const delta = (key: string): number => value(after, key) - value(before, key);
  t.equal(delta('ftchat_posts_total'), POSTS, 'every post counted once, whichever worker took it');
  t.equal(delta('ftchat_post_ack_seconds_count'), POSTS, 'and its ack time');
  t.equal(delta('ftchat_deliveries_total'), POSTS, 'each post delivered once to the one stream');
  t.ok(delta('ftchat_commit_batch_events_sum') >= POSTS, 'the commits wrote at least the posts');
  t.ok(delta('ftchat_fsync_seconds_count') >= 1, 'and fsynced them');
  t.equal(value(after, 'ftchat_stream_drops_total'), 0, 'no reader was too slow');

  stream.cancel();
  await waitFor('the stream counted closed', async () => value(await scrape('m1'), 'ftchat_streams') === 0);
});

t.test("a re-forked worker counts as a restart in the machine's metrics", async (t) => {
  const key = 'ftchat_restarts_total{role="worker"}';
  const before = value(await scrape('m1'), key);
  const [pid] = cluster.workerPids('m1');
  process.kill(pid, 'SIGKILL');
  await waitFor('the restart counted', async () => value(await scrape('m1'), key) === before + 1);
  t.pass(`worker restarts went from ${before} to ${before + 1}`);
});

t.test('replication lag to a peer rises while it is down and falls to 0 once it is back; the link from it reads down meanwhile', async (t) => {
  const lag = 'ftchat_replication_lag_events{peer="m2"}';
  const link = 'ftchat_peer_link_up{peer="m2"}';
  const m1 = ownConnection(t, cluster.address('m1'));
  await call(m1, 'Connect', { user: 'lagger' });
  await waitFor('m2 has everything', async () => (await scrape('m1')).get(lag) === 0);
  await waitFor('m1 pulls from m2', async () => (await scrape('m1')).get(link) === 1);
  await cluster.stop('m2');
  for (let i = 0; i < 5; i++) await call(m1, 'Post', { user: 'lagger', id: `lag-${i}`, text: `while m2 is down ${i}` });
  t.equal(value(await scrape('m1'), lag), 5, "m1 holds 5 events m2 has not been sent");
  await waitFor('the link from m2 down', async () => (await scrape('m1')).get(link) === 0);
  t.pass('the link from m2 reads down');
  await cluster.start('m2');
  await waitFor('m2 caught up', async () => (await scrape('m1')).get(lag) === 0);
  t.pass('the lag fell to 0');
  await waitFor('the link from m2 up again', async () => (await scrape('m1')).get(link) === 1);
  t.pass('and the link from m2 is up again');
});

t.test('with metrics.tls the endpoint speaks https with the machine certificate, checked against the cluster CA', async (t) => {
  const secure = await startCluster({ workers: 1, guardians: 1, metrics: { tls: true } });
  t.teardown(() => secure.teardown());
  const config = loadConfig(secure.configFile);
  const url = (await secure.status()).machines.m1.metricsUrl;
  t.match(url, /^https:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const samples = await waitFor('a scrape over https', () => scrapeMachine(config, 'm1'));
  t.ok(samples.has('ftchat_posts_total'), 'the metrics, over TLS');
  await t.rejects(fetch(url.replace('https:', 'http:')).then((r) => r.text()), 'plain HTTP gets no answer');
});
