/**
 * The heartbeat failure detector, driven by a fake clock: a silent peer becomes
 * suspect and then dead at the configured thresholds, a heartbeat revives it, and
 * a starting peer keeps its grace until it says it has started.
 */
import t from 'tap';
import { FailureDetector, type FailureDetectorOptions, type PeerStatus } from '../../lib/control/failure-detector';
import { parseConfig } from '../../lib/common/config';
import { rng } from '../helpers/events';

const T0 = 50_000; // an arbitrary monotonic origin
/** The config's defaults: the one place timing comes from. */
const { heartbeatMs, suspectAfterMs, deadAfterMs, startupGraceMs } = parseConfig(
  { machines: { m1: { host: '127.0.0.1', port: 1, adminPort: 2 } }, secret: 's' },
  '/x/cluster.json',
).timing;
const TIMING: FailureDetectorOptions = { heartbeatMs, suspectAfterMs, deadAfterMs, startupGraceMs };

function detector(o: Partial<FailureDetectorOptions> = {}): FailureDetector {
  return new FailureDetector({ ...TIMING, ...o });
}

/** The statuses a peer went through, each run of the same one once. */
function changes(statuses: PeerStatus[]): string[] {
  return statuses.filter((s, i) => s !== statuses[i - 1]);
}

t.test('with the config\'s timing a silent peer is suspect after 600 ms and dead after 1 s', async (t) => {
  const fd = detector();
  t.same(fd.options, { heartbeatMs: 200, suspectAfterMs: 600, deadAfterMs: 1000, startupGraceMs: 1500 });
  fd.heartbeat('w1', T0);
  t.equal(fd.status('w1', T0), 'up');
  t.equal(fd.status('w1', T0 + 599), 'up', 'just under the suspicion threshold');
  t.equal(fd.status('w1', T0 + 600), 'suspect', 'at the suspicion threshold');
  t.equal(fd.status('w1', T0 + 999), 'suspect', 'just under the death threshold');
  t.equal(fd.status('w1', T0 + 1000), 'dead', 'at the death threshold');
  t.equal(fd.status('w1', T0 + 60_000), 'dead');
  t.equal(fd.ageMs('w1', T0 + 1234), 1234, 'age is the time since the last heartbeat');
});

t.test('a late heartbeat revives a suspect or dead peer at once', async (t) => {
  const fd = detector();
  fd.heartbeat('w1', T0);
  t.equal(fd.status('w1', T0 + 700), 'suspect');
  fd.heartbeat('w1', T0 + 700);
  t.equal(fd.status('w1', T0 + 700), 'up', 'suspect -> up');
  t.equal(fd.status('w1', T0 + 5000), 'dead');
  fd.heartbeat('w1', T0 + 5000);
  t.equal(fd.status('w1', T0 + 5000), 'up', 'dead -> up');
  t.equal(fd.ageMs('w1', T0 + 5010), 10);
});

t.test('heartbeats jittering well inside the timeout never raise suspicion', async (t) => {
  const fd = detector();
  const { heartbeatMs, suspectAfterMs } = fd.options;
  const random = rng(7);
  let now = T0;
  let next = T0;
  let beats = 0;
  const seen: PeerStatus[] = [];
  fd.heartbeat('w', now);
  while (beats < 5000) {
    now += 5;
    if (now >= next) {
      fd.heartbeat('w', now);
      beats++;
      // Up to three intervals late: a loaded machine, a lost beat or two.
      next = now + Math.floor(heartbeatMs * (0.5 + random() * 2));
    }
    seen.push(fd.status('w', now)!);
  }
  t.ok(2.5 * heartbeatMs < suspectAfterMs, 'the jitter stays under the threshold');
  t.same(changes(seen), ['up'], `${beats} jittery heartbeats, no suspicion`);
});

t.test('heartbeats jittering around the threshold flap up and suspect, never dead', async (t) => {
  const fd = detector();
  const { suspectAfterMs } = fd.options;
  const random = rng(11);
  let lateGaps = 0;
  const seen: PeerStatus[] = [];
  let now = T0;
  fd.heartbeat('w', now);
  for (let beat = 0; beat < 400; beat++) {
    const gap = suspectAfterMs - 40 + Math.floor(random() * 81); // 560..640 ms
    if (gap > suspectAfterMs) lateGaps++;
    for (let step = 1; step <= gap; step++) {
      now++;
      if (step === gap) fd.heartbeat('w', now); // the beat arrives before the check of the same millisecond
      seen.push(fd.status('w', now)!);
    }
  }
  t.ok(lateGaps > 50 && lateGaps < 350, `both sides of the threshold occur (${lateGaps} of 400 late)`);
  t.same(changes(seen), ['up', ...Array.from({ length: lateGaps }, () => ['suspect', 'up']).flat()], 'one suspicion and one recovery per late beat');
});

t.test('a newly added peer gets a startup grace before its first heartbeat', async (t) => {
  const fd = detector({ startupGraceMs: 1500 });
  fd.add('w', T0);
  t.equal(fd.status('w', T0 + 2099), 'up', 'still booting: the grace is on top of the suspicion threshold');
  t.equal(fd.status('w', T0 + 2100), 'suspect');
  t.equal(fd.status('w', T0 + 2500), 'dead', 'never came up: dead after grace + death threshold');
  t.equal(fd.ageMs('w', T0 + 2500), 2500, 'age counts from when it was added');

  fd.add('x', T0);
  fd.heartbeat('x', T0 + 100);
  t.equal(fd.status('x', T0 + 700), 'suspect', 'the grace ends with the first heartbeat');

  fd.add('y', T0);
  fd.heartbeat('y', T0 + 100, false);
  t.equal(fd.status('y', T0 + 2199), 'up', 'a beat that says it is still starting keeps the grace');
  t.equal(fd.started('y'), false);
  t.equal(fd.status('y', T0 + 2600), 'dead', 'silent past grace and threshold while starting: dead');
  fd.heartbeat('y', T0 + 2600);
  t.equal(fd.started('y'), true, 'once started, for good');
  t.equal(fd.status('y', T0 + 3200), 'suspect', 'and only the thresholds apply');
});

t.test('re-adding a dead peer (it was respawned) gives it a fresh grace', async (t) => {
  const fd = detector();
  fd.heartbeat('w', T0);
  t.equal(fd.status('w', T0 + 1000), 'dead');
  fd.add('w', T0 + 1000);
  t.equal(fd.status('w', T0 + 1000), 'up');
  t.equal(fd.status('w', T0 + 1000 + 2000), 'up', 'within the fresh grace');
});

t.test('a peer declared dead from outside is dead at once, until it is heard again', async (t) => {
  const fd = detector();
  fd.heartbeat('w', T0);
  fd.markDead('w');
  t.equal(fd.status('w', T0 + 1), 'dead', 'no need to wait out the timeout when the process is known gone');
  fd.heartbeat('w', T0 + 300);
  t.equal(fd.status('w', T0 + 300), 'up');
  fd.markDead('nobody'); // not watched: nothing to do
  t.equal(fd.status('nobody', T0), undefined);
});

t.test('an unwatched peer has no status; a heartbeat starts watching it', async (t) => {
  const fd = detector();
  t.equal(fd.status('w', T0), undefined);
  t.equal(fd.ageMs('w', T0), undefined);
  fd.heartbeat('w', T0);
  t.equal(fd.status('w', T0 + 10), 'up');
});

t.test('bad timing is refused with a clear one-line message', async (t) => {
  t.throws(() => detector({ heartbeatMs: 600, suspectAfterMs: 600 }), /suspectAfterMs \(600\) must exceed heartbeatMs \(600\)/);
  t.throws(() => detector({ suspectAfterMs: 1000, deadAfterMs: 900 }), /deadAfterMs \(900\) must exceed suspectAfterMs \(1000\)/);
  t.throws(() => detector({ heartbeatMs: 0 }), /heartbeatMs must be a positive number/);
  t.throws(() => detector({ deadAfterMs: NaN }), /deadAfterMs must be a positive number/);
  t.throws(() => detector({ startupGraceMs: -1 }), /startupGraceMs must be >= 0/);
});
