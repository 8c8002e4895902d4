/** A peer whose clock is off beyond the bound is reported, at most once per interval, and its offset kept for status. */
import t from 'tap';
import { ClockSkewMonitor } from '../../lib/replication/clock-skew';
import { ev } from '../helpers/events';

t.test('a peer within the bound is not reported, but its offset is kept', async (t) => {
  let now = 1_000_000;
  const m = new ClockSkewMonitor(500, () => now);
  t.equal(m.check('m2', [ev({ origin: 'm2.a1b2c3.w0', seq: 1, hlc: { wall: now + 100, logical: 0 } })], now - 200), null);
  t.same(m.offsets(), { m2: -200 });
});

t.test('a peer three hours behind is reported once per interval, and status sees the offset', async (t) => {
  let now = 50_000_000;
  const m = new ClockSkewMonitor(500, () => now, 10_000);
  const behind = now - 3 * 3600 * 1000;
  const first = m.check('m2', [], behind);
  t.match(first, { peer: 'm2', boundMs: 500, peerClockOffsetMs: -3 * 3600 * 1000 });
  now += 5_000;
  t.equal(m.check('m2', [], now - 3 * 3600 * 1000), null, 'not again within the interval');
  now += 6_000;
  t.ok(m.check('m2', [], now - 3 * 3600 * 1000), 'again after it');
  t.same(m.offsets(), { m2: -3 * 3600 * 1000 });
});

t.test('events stamped far ahead of our clock are reported even without a clock reading', async (t) => {
  const now = 7_000_000;
  const m = new ClockSkewMonitor(500, () => now);
  t.match(m.check('m3', [ev({ origin: 'm2.a1b2c3.w0', seq: 1, hlc: { wall: now + 600_000, logical: 0 } })], null), { peer: 'm3', eventAheadMs: 600_000, peerClockOffsetMs: null });
  t.same(m.offsets(), {}, 'no clock reading, no offset');
});
