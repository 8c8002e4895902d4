/** Prometheus text read back, as the console and the tests read a machine's /metrics. */
import t from 'tap';
import { byLabel, metricSamples, sumOf } from '../../lib/common/metrics-text';

const TEXT = [
  '# HELP ftchat_peer_link_up Whether this machine pulls a replication stream from the peer (1) or not (0)',
  '# TYPE ftchat_peer_link_up gauge',
  'ftchat_peer_link_up{peer="m2"} 1',
  'ftchat_peer_link_up{peer="m3"} 0',
  'ftchat_quota_refusals_total{kind="post",peer="m\\"9"} 4',
  'ftchat_posts_total 7',
  'not a sample',
].join('\n');

t.test('samples by name and labels, summed, and by the value of one label', async (t) => {
  const samples = metricSamples(TEXT);
  t.equal(samples.get('ftchat_posts_total'), 7);
  t.equal(sumOf(samples, 'ftchat_peer_link_up'), 1, 'the sum over the labels');
  t.same(byLabel(samples, 'ftchat_peer_link_up', 'peer'), { m2: 1, m3: 0 });
  t.same(byLabel(samples, 'ftchat_quota_refusals_total', 'peer'), { 'm\\"9': 4 }, 'a label after another, with an escaped quote');
  t.same(byLabel(samples, 'ftchat_posts_total', 'peer'), {}, 'no such label');
});
