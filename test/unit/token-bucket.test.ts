/**
 * Token buckets: a burst up to the limit, then the steady rate; an exact retry
 * hint; keys apart; memory only for buckets still refilling. Time is fed in.
 */
import t from 'tap';
import { TokenBuckets } from '../../lib/core/token-bucket';

t.test('a key bursts up to the limit, then is told how long until the next token', async (t) => {
  const b = new TokenBuckets<string>({ limit: 20, perMs: 1000 });
  for (let i = 0; i < 20; i++) t.equal(b.take('ann', 5000), 0, `token ${i + 1} of the burst`);
  t.equal(b.take('ann', 5000), 50, 'the 21st waits one token: 1000/20 ms');
  t.equal(b.take('ann', 5020), 30, 'refused requests take nothing: the wait only shrinks');
  t.equal(b.take('ann', 5050), 0, 'at the hinted time the token is there');
  t.equal(b.take('ann', 5050), 50, 'and only one');
});

t.test('the steady rate is the limit per period, however the requests are spread', async (t) => {
  const b = new TokenBuckets<string>({ limit: 100, perMs: 60_000 });
  let granted = 0;
  for (let now = 0; now <= 600_000; now += 100) if (b.take('10.0.0.1', now) === 0) granted++;
  t.equal(granted, 100 + 1000, 'the first burst of 100, then 100 a minute for 10 minutes');
});

t.test('keys have buckets of their own', async (t) => {
  const b = new TokenBuckets<string>({ limit: 2, perMs: 1000 });
  t.equal(b.take('ann', 0), 0);
  t.equal(b.take('ann', 0), 0);
  t.ok(b.take('ann', 0) > 0, 'ann is out');
  t.equal(b.take('bob', 0), 0, 'bob is not');
});

t.test('a clock stepping back neither refills nor drains a bucket', async (t) => {
  const b = new TokenBuckets<string>({ limit: 1, perMs: 1000 });
  t.equal(b.take('ann', 10_000), 0);
  t.equal(b.take('ann', 9_000), 1000, 'still a whole period to wait');
  t.equal(b.take('ann', 10_000), 0, 'the period counts from the step back');
});

t.test('buckets that have refilled are forgotten: memory follows the keys active in one period', async (t) => {
  const b = new TokenBuckets<number>({ limit: 1, perMs: 1000 });
  for (let k = 0; k < 5000; k++) b.take(k, 0);
  t.ok(b.size <= 5000, 'every key of the same instant is still refilling');
  for (let k = 5000; k < 10_000; k++) b.take(k, 2000); // the first 5,000 have refilled by now
  t.ok(b.size <= 5000 + 1, `the refilled keys were swept (${b.size} kept)`);
  t.equal(b.take(4999, 2000), 0, 'a forgotten key starts with a full bucket, as it would have had');
  t.equal(b.take(5000, 2000), 1000, 'a key still refilling keeps its empty bucket');
});

t.test('a rate that cannot work is refused', async (t) => {
  t.throws(() => new TokenBuckets({ limit: 0, perMs: 1000 }));
  t.throws(() => new TokenBuckets({ limit: 5, perMs: 0 }));
});

t.test('several tokens at once: as many whole ones as there are, up to the ask', async (t) => {
  const b = new TokenBuckets<string>({ limit: 10, perMs: 1000 });
  t.same(b.takeUpTo('ann', 4, 0), { taken: 4, waitMs: 0 }, 'four of ten');
  t.same(b.takeUpTo('ann', 100, 0), { taken: 6, waitMs: 0 }, 'the six left, not more');
  t.same(b.takeUpTo('ann', 4, 0), { taken: 0, waitMs: 100 }, 'none: the wait for one');
  t.same(b.takeUpTo('ann', 4, 250), { taken: 2, waitMs: 0 }, 'what refilled in 250 ms');
});
