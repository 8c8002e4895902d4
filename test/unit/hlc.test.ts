/**
 * The hybrid logical clock: timestamps never run backwards and a reply always
 * sorts after what it answers, whatever the machines' wall clocks say.
 */
import tap from 'tap';
const t = tap;
import { compareHlc, HybridClock, MAX_LOGICAL, ZERO_HLC, type Hlc } from '../../lib/core/hlc';

const HOUR = 3_600_000;
const T0 = 1_700_000_000_000;

/** A physical clock driven by hand. */
function manualClock(start: number): { now: () => number; set: (ms: number) => void; add: (ms: number) => void } {
  let ms = start;
  return { now: () => ms, set: (v) => (ms = v), add: (d) => (ms += d) };
}

function assertIncreasing(t: Pick<typeof tap, 'pass' | 'fail'>, stamps: Hlc[]): void {
  for (let i = 1; i < stamps.length; i++) {
    if (compareHlc(stamps[i - 1], stamps[i]) >= 0) {
      t.fail(`timestamp ${i} (${JSON.stringify(stamps[i])}) does not sort after ${JSON.stringify(stamps[i - 1])}`);
      return;
    }
  }
  t.pass(`${stamps.length} timestamps strictly increase`);
}

t.test('compareHlc orders by wall time, then by the logical counter', async (t) => {
  t.ok(compareHlc({ wall: 1, logical: 9 }, { wall: 2, logical: 0 }) < 0, 'earlier wall sorts first');
  t.ok(compareHlc({ wall: 2, logical: 0 }, { wall: 1, logical: 9 }) > 0, 'later wall sorts last');
  t.ok(compareHlc({ wall: 5, logical: 1 }, { wall: 5, logical: 2 }) < 0, 'same wall: lower logical first');
  t.ok(compareHlc({ wall: 5, logical: 3 }, { wall: 5, logical: 2 }) > 0, 'same wall: higher logical last');
  t.equal(compareHlc({ wall: 5, logical: 2 }, { wall: 5, logical: 2 }), 0, 'equal stamps compare equal');
  t.equal(compareHlc(ZERO_HLC, { wall: 0, logical: 0 }), 0);
  t.ok(compareHlc({ wall: T0 + 100 * 365 * 24 * HOUR, logical: 0 }, { wall: T0, logical: 1_000_000 }) > 0, 'far-apart walls compare correctly');
});

t.test('timestamps are strictly monotonic under a frozen physical clock', async (t) => {
  const clock = new HybridClock(() => T0);
  const stamps = Array.from({ length: 1000 }, () => clock.now());
  assertIncreasing(t, stamps);
  t.ok(stamps.every((s) => s.wall === T0), 'wall stays at the physical time');
  t.same(clock.current(), stamps[stamps.length - 1], 'current() is the last stamp handed out');
});

t.test('timestamps follow the physical clock when it advances', async (t) => {
  const pc = manualClock(T0);
  const clock = new HybridClock(pc.now);
  clock.now();
  clock.now();
  pc.add(5);
  t.same(clock.now(), { wall: T0 + 5, logical: 0 }, 'a new millisecond resets the counter');
});

t.test('a clock that jumps backwards never yields a smaller timestamp', async (t) => {
  const pc = manualClock(T0);
  const clock = new HybridClock(pc.now);
  const stamps: Hlc[] = [clock.now(), clock.now()];
  pc.set(T0 - 3 * HOUR); // NTP step or a manual reset
  for (let i = 0; i < 50; i++) stamps.push(clock.now());
  pc.add(HOUR); // still behind the highest stamp
  stamps.push(clock.now(), clock.observe({ wall: T0 - 5 * HOUR, logical: 7 }), clock.now());
  pc.set(T0 + 10); // physical time overtakes again
  stamps.push(clock.now());
  assertIncreasing(t, stamps);
  t.same(stamps[stamps.length - 1], { wall: T0 + 10, logical: 0 }, 'once physical time passes the stamps, it is used again');
});

t.test('with machines hours apart, every reply sorts after what it answers', async (t) => {
  for (const [label, skew] of [
    ['replier 3 hours behind', -3 * HOUR],
    ['replier 3 hours ahead', 3 * HOUR],
  ] as const) {
    const shared = manualClock(T0); // true time; each machine's clock is off by a fixed amount
    const a = new HybridClock(() => shared.now());
    const b = new HybridClock(() => shared.now() + skew);
    // A conversation bouncing between the two machines: each message is stamped by
    // the receiver after it observed the message it answers.
    let msg = a.now();
    const thread: Hlc[] = [msg];
    for (let i = 0; i < 200; i++) {
      shared.add(i % 3); // sometimes no time passes at all between messages
      const receiver = i % 2 === 0 ? b : a;
      receiver.observe(msg);
      msg = receiver.now();
      thread.push(msg);
    }
    t.test(label, async (t) => assertIncreasing(t, thread));
  }
});

t.test('observe() of a far-future remote: later local events still sort after it', async (t) => {
  const pc = manualClock(T0);
  const clock = new HybridClock(pc.now);
  const before = clock.now();
  const remote = { wall: T0 + 1000 * HOUR, logical: 41 };
  const seen = clock.observe(remote);
  t.ok(compareHlc(seen, remote) > 0, 'observe() returns a stamp after the remote one');
  t.ok(compareHlc(seen, before) > 0, 'and after what this clock had handed out');
  const next = clock.now();
  t.ok(compareHlc(next, remote) > 0, 'the next local event sorts after the remote one');
  t.ok(compareHlc(next, seen) > 0, 'and after the merged stamp');
  t.equal(clock.offsetOf(remote), 1000 * HOUR, 'offsetOf reports how far ahead the remote runs');
  t.equal(clock.offsetOf({ wall: T0 - 2 * HOUR, logical: 0 }), -2 * HOUR, 'and how far behind');
  // The physical clock catching up to the remote's wall takes over again.
  pc.set(T0 + 1001 * HOUR);
  t.same(clock.now(), { wall: T0 + 1001 * HOUR, logical: 0 }, 'physical time past the remote is used again');
});

t.test('observe() merges equal walls by taking the larger counter', async (t) => {
  const clock = new HybridClock(() => T0);
  clock.now(); // {T0, 0}
  t.same(clock.observe({ wall: T0, logical: 9 }), { wall: T0, logical: 10 }, 'remote counter ahead');
  t.same(clock.observe({ wall: T0, logical: 3 }), { wall: T0, logical: 11 }, 'own counter ahead');
  t.same(clock.observe({ wall: T0 - 5, logical: 99 }), { wall: T0, logical: 12 }, 'older remote only ticks the counter');
});

t.test('the logical counter never passes what the wire carries (uint32): the wall moves on instead', async (t) => {
  // The measured split: an `after` a minute ahead with its counter at the top of uint32.
  const clock = new HybridClock(() => T0);
  const remote = { wall: T0 + 60_000, logical: MAX_LOGICAL };
  const seen = clock.observe(remote);
  t.same(seen, { wall: T0 + 60_001, logical: 0 }, 'observe() past a full counter advances the wall by 1 ms');
  t.ok(compareHlc(seen, remote) > 0, 'and still sorts after the remote stamp');
  const full = new HybridClock(() => T0);
  full.observe({ wall: T0, logical: MAX_LOGICAL - 1 }); // {T0, MAX}
  t.same(full.current(), { wall: T0, logical: MAX_LOGICAL }, 'the counter may reach the top itself');
  t.same(full.now(), { wall: T0 + 1, logical: 0 }, 'now() past a full counter advances the wall');
  const both = new HybridClock(() => T0);
  both.observe({ wall: T0, logical: MAX_LOGICAL - 1 });
  t.same(both.observe({ wall: T0, logical: MAX_LOGICAL }), { wall: T0 + 1, logical: 0 }, 'equal walls with a full counter too');
  const stamps = [remote, seen, full.current(), both.current()];
  t.ok(stamps.every((h) => h.logical <= MAX_LOGICAL), 'no stamp carries a counter past uint32');
});
