/**
 * A peer link's state between its streams (lib/replication/link-state): a broken
 * stream is said once per new reason, a peer that is starting or stopped cleanly is
 * no fault, and a peer whose streams keep failing is pulled ever less often.
 */
import t from 'tap';
import { ENDED, LinkState, PULL_BACKOFF } from '../../lib/replication/link-state';

const REFUSED = 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1';

t.test('a peer not listening yet is no news; another fault is said once per reason', async (t) => {
  const s = new LinkState();
  t.equal(s.broke(REFUSED, false, 0).level, 'debug', 'a refused connection before the first stream: the peer is starting');
  t.equal(s.broke(REFUSED, false, 0).level, null, 'the same reason again: nothing to say');
  t.equal(s.broke('handshake failed', false, 0).level, 'warn', 'a new reason is a fault to show');
  s.up();
  t.equal(s.broke(REFUSED, false, 0).level, 'warn', 'once the peer was reached, a refused connection is a fault');
});

t.test('a working stream that breaks is said; one the peer ended cleanly is info, and its refusals after are expected', async (t) => {
  const s = new LinkState();
  s.up();
  s.live = true;
  const b = s.broke(ENDED, true, 5_000);
  t.same([b.level, b.message], ['info', 'lost replication stream; pulling again']);
  t.same([s.connected, s.live], [false, false], 'neither up nor live until the next stream delivers');
  t.equal(s.broke(REFUSED, false, 0).level, 'debug', 'a peer that stopped cleanly refuses until it is back');
});

t.test('the back-off doubles while streams fail young and empty, and starts over after one that brought news or lasted', async (t) => {
  const s = new LinkState();
  const delays = [1, 2, 3, 4, 5].map(() => s.broke('x', false, 0).delayMs);
  t.same(delays, [100, 200, 400, 800, 1_000], 'up to the cap');
  t.equal(s.broke('x', true, 0).delayMs, PULL_BACKOFF.firstMs, 'news resets it');
  s.broke('x', false, 0);
  t.equal(s.broke('x', false, PULL_BACKOFF.capMs).delayMs, PULL_BACKOFF.firstMs, 'so does a stream that lasted the cap');
});
