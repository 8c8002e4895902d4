/**
 * The heartbeat failure detector, driven by a fake clock: a silent peer becomes
 * suspect and then dead at the configured thresholds, a heartbeat revives it, and
 * each change is reported exactly once.
 */
import t from 'tap';
import { DEFAULT_FAILURE_DETECTOR_OPTIONS, FailureDetector, type PeerTransition } from '../../lib/cluster/failure-detector';
import { rng } from '../helpers/events';

const T0 = 50_000; // an arbitrary monotonic origin

function changes(list: PeerTransition[]): string[] {
  return list.map((x) => `${x.peer}:${x.from}->${x.to}`);
}

t.test('with default timing a silent peer is suspect after 600 ms and dead after 1 s', async (t) => {
  const fd = new FailureDetector();
  t.same(fd.options, { heartbeatMs: 150, suspectAfterMs: 600, deadAfterMs: 1000, startupGraceMs: 1500 });
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
  const fd = new FailureDetector();
  fd.heartbeat('w1', T0);
  t.equal(fd.status('w1', T0 + 700), 'suspect');
  fd.heartbeat('w1', T0 + 700);
  t.equal(fd.status('w1', T0 + 700), 'up', 'suspect -> up');
  t.equal(fd.status('w1', T0 + 5000), 'dead');
  fd.heartbeat('w1', T0 + 5000);
  t.equal(fd.status('w1', T0 + 5000), 'up', 'dead -> up');
  t.equal(fd.ageMs('w1', T0 + 5010), 10);
});

t.test('each change of status is reported once, with the silence that caused it', async (t) => {
  const fd = new FailureDetector();
  fd.heartbeat('a', T0);
  fd.heartbeat('b', T0);
  t.same(fd.transitions(T0 + 100), [], 'nothing changed yet');
  fd.heartbeat('b', T0 + 650);
  t.same(fd.transitions(T0 + 650), [{ peer: 'a', from: 'up', to: 'suspect', ageMs: 650 }]);
  t.same(fd.transitions(T0 + 700), [], 'the same suspicion is not reported again');
  t.same(changes(fd.transitions(T0 + 1100)), ['a:suspect->dead']);
  t.same(fd.transitions(T0 + 1200), []);
  t.same(changes(fd.transitions(T0 + 9000)), ['b:up->dead'], 'only b, silent since; a dead peer is reported dead once');
  fd.heartbeat('a', T0 + 9000);
  fd.heartbeat('b', T0 + 9000);
  t.same(changes(fd.transitions(T0 + 9000)), ['a:dead->up', 'b:dead->up']);
  t.same(fd.transitions(T0 + 9001), []);
});

t.test('a peer that dies and is heard again between two checks reports no change', async (t) => {
  const fd = new FailureDetector();
  fd.heartbeat('a', T0);
  fd.transitions(T0);
  fd.heartbeat('a', T0 + 2000); // silent past the death threshold, but the check came after it was back
  t.same(fd.transitions(T0 + 2000), []);
});

t.test('heartbeats jittering well inside the timeout never raise suspicion', async (t) => {
  const fd = new FailureDetector();
  const { heartbeatMs, suspectAfterMs } = fd.options;
  const random = rng(7);
  let now = T0;
  let next = T0;
  let beats = 0;
  const seen: PeerTransition[] = [];
  fd.heartbeat('w', now);
  while (beats < 5000) {
    now += 5;
    if (now >= next) {
      fd.heartbeat('w', now);
      beats++;
      // Up to three intervals late: a loaded machine, a lost beat or two.
      next = now + Math.floor(heartbeatMs * (0.5 + random() * 3));
    }
    seen.push(...fd.transitions(now));
  }
  t.ok(3 * heartbeatMs + heartbeatMs / 2 < suspectAfterMs, 'the jitter stays under the threshold');
  t.same(seen, [], `${beats} jittery heartbeats, no suspicion`);
});

t.test('heartbeats jittering around the threshold flap up and suspect, each flap reported once, never dead', async (t) => {
  const fd = new FailureDetector();
  const { suspectAfterMs } = fd.options;
  const random = rng(11);
  let lateGaps = 0;
  const seen: string[] = [];
  let now = T0;
  fd.heartbeat('w', now);
  for (let beat = 0; beat < 400; beat++) {
    const gap = suspectAfterMs - 40 + Math.floor(random() * 81); // 560..640 ms
    if (gap > suspectAfterMs) lateGaps++;
    for (let step = 1; step <= gap; step++) {
      now++;
      if (step === gap) fd.heartbeat('w', now); // the beat arrives before the check of the same millisecond
      seen.push(...changes(fd.transitions(now)));
    }
  }
  t.ok(lateGaps > 50 && lateGaps < 350, `both sides of the threshold occur (${lateGaps} of 400 late)`);
  t.same(seen, Array.from({ length: lateGaps }, () => ['w:up->suspect', 'w:suspect->up']).flat(), 'one suspicion and one recovery per late beat');
});

t.test('a newly added peer gets a startup grace before its first heartbeat', async (t) => {
  const fd = new FailureDetector({ startupGraceMs: 1500 });
  fd.add('w', T0);
  t.equal(fd.status('w', T0 + 2099), 'up', 'still booting: the grace is on top of the suspicion threshold');
  t.equal(fd.status('w', T0 + 2100), 'suspect');
  t.equal(fd.status('w', T0 + 2500), 'dead', 'never came up: dead after grace + death threshold');
  t.equal(fd.ageMs('w', T0 + 2500), 2500, 'age counts from when it was added');

  fd.add('x', T0);
  fd.heartbeat('x', T0 + 100);
  t.equal(fd.status('x', T0 + 700), 'suspect', 'the grace ends with the first heartbeat');
});

t.test('re-adding a dead peer (it was respawned) gives it a fresh grace and reports it up', async (t) => {
  const fd = new FailureDetector();
  fd.heartbeat('w', T0);
  t.same(changes(fd.transitions(T0 + 1000)), ['w:up->dead'], 'a check after the death threshold reports the net change');
  fd.add('w', T0 + 1000);
  t.same(changes(fd.transitions(T0 + 1000)), ['w:dead->up']);
  t.equal(fd.status('w', T0 + 1000 + 2000), 'up', 'within the fresh grace');
});

t.test('a peer declared dead from outside is dead at once, until it is heard again', async (t) => {
  const fd = new FailureDetector();
  fd.heartbeat('w', T0);
  fd.markDead('w');
  t.equal(fd.status('w', T0 + 1), 'dead', 'no need to wait out the timeout when the process is known gone');
  t.same(changes(fd.transitions(T0 + 1)), ['w:up->dead']);
  fd.heartbeat('w', T0 + 300);
  t.equal(fd.status('w', T0 + 300), 'up');
  fd.markDead('nobody'); // not watched: nothing to do
  t.equal(fd.status('nobody', T0), undefined);
});

t.test('an unwatched peer has no status; a heartbeat starts watching it; a removed one is forgotten', async (t) => {
  const fd = new FailureDetector();
  t.equal(fd.status('w', T0), undefined);
  t.equal(fd.ageMs('w', T0), undefined);
  fd.heartbeat('w', T0);
  t.equal(fd.status('w', T0 + 10), 'up');
  t.same(fd.transitions(T0 + 10), [], 'a peer first seen up is not a change');
  fd.remove('w');
  t.equal(fd.status('w', T0 + 5000), undefined);
  t.same(fd.transitions(T0 + 5000), [], 'a removed peer never reports dead');
});

t.test('the snapshot lists every watched peer with its status and age', async (t) => {
  const fd = new FailureDetector();
  fd.heartbeat('m1.w0', T0);
  fd.add('m1.w1', T0);
  fd.heartbeat('m2.w0', T0 - 700);
  t.same(fd.snapshot(T0 + 100), [
    { peer: 'm1.w0', status: 'up', ageMs: 100 },
    { peer: 'm1.w1', status: 'up', ageMs: 100 },
    { peer: 'm2.w0', status: 'suspect', ageMs: 800 },
  ]);
});

t.test('bad timing is refused with a clear one-line message', async (t) => {
  t.throws(() => new FailureDetector({ heartbeatMs: 600, suspectAfterMs: 600 }), /suspectAfterMs \(600\) must exceed heartbeatMs \(600\)/);
  t.throws(() => new FailureDetector({ suspectAfterMs: 1000, deadAfterMs: 900 }), /deadAfterMs \(900\) must exceed suspectAfterMs \(1000\)/);
  t.throws(() => new FailureDetector({ heartbeatMs: 0 }), /heartbeatMs must be a positive number/);
  t.throws(() => new FailureDetector({ deadAfterMs: NaN }), /deadAfterMs must be a positive number/);
  t.throws(() => new FailureDetector({ startupGraceMs: -1 }), /startupGraceMs must be >= 0/);
  t.same(new FailureDetector({ heartbeatMs: 100, suspectAfterMs: 300, deadAfterMs: 600 }).options, {
    ...DEFAULT_FAILURE_DETECTOR_OPTIONS,
    heartbeatMs: 100,
    suspectAfterMs: 300,
    deadAfterMs: 600,
  });
});
