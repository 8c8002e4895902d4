/**
 * The master's judgement of remote children, driven by a fake clock: a child
 * silent past the limit or a slot missing too long is asked for once (again only
 * after the back-off), and nothing is judged on a machine whose supervisor is silent.
 */
import t from 'tap';
import { RemoteChildWatch, type ReportedChild, type ReviveAsk } from '../../lib/control/remote-children';

const T0 = 80_000; // an arbitrary monotonic origin
const expected = [{ role: 'worker', slot: 0 }, { role: 'worker', slot: 1 }, { role: 'replicator', slot: 0 }];
const options = { expected, hungAfterMs: 2_000, missingAfterMs: 1_000, reportFreshMs: 2_000, askAgainAfterMs: 5_000 };

function healthy(pids = [101, 102, 103]): ReportedChild[] {
  return [
    { role: 'worker', slot: 0, pid: pids[0], heartbeatAgeMs: 300 },
    { role: 'worker', slot: 1, pid: pids[1], heartbeatAgeMs: 900 },
    { role: 'replicator', slot: 0, pid: pids[2], heartbeatAgeMs: 50 },
  ];
}

const asks = (list: ReviveAsk[]): string[] => list.map((a) => `${a.machine} ${a.role} ${a.slot} pid ${a.pid} ${a.reason}`);

t.test('children that answer their supervisor within the ping interval are never asked for', async (t) => {
  const w = new RemoteChildWatch(options);
  for (let s = 0; s < 30; s++) {
    w.step({ kind: 'report', machine: 'm2', children: healthy() }, T0 + s * 1_000);
    t.same(w.step({ kind: 'tick' }, T0 + s * 1_000 + 40), [], `poll ${s}`);
  }
});

t.test('a child silent past the limit is asked for, counting the time since the report', async (t) => {
  const w = new RemoteChildWatch(options);
  const children = healthy();
  children[1].heartbeatAgeMs = 1_800;
  w.step({ kind: 'report', machine: 'm2', children: children }, T0);
  t.same(w.step({ kind: 'tick' }, T0), [], 'reported 1.8 s silent: not yet');
  t.same(w.step({ kind: 'tick' }, T0 + 200), [], 'exactly at the limit: not yet');
  const due = w.step({ kind: 'tick' }, T0 + 201);
  t.same(asks(due), ['m2 worker 1 pid 102 silent'], '1.8 s reported + 201 ms since the report: lost');
  t.equal(due[0].forMs, 2_001);
});

t.test('a lost child is asked for once, and again only after the back-off', async (t) => {
  const w = new RemoteChildWatch(options);
  const children = healthy();
  children[0].heartbeatAgeMs = 2_500;
  w.step({ kind: 'report', machine: 'm2', children: children }, T0);
  t.same(asks(w.step({ kind: 'tick' }, T0)), ['m2 worker 0 pid 101 silent']);
  for (let s = 1; s < 5; s++) {
    children[0].heartbeatAgeMs = 2_500 + s * 1_000;
    w.step({ kind: 'report', machine: 'm2', children: children }, T0 + s * 1_000);
    t.same(w.step({ kind: 'tick' }, T0 + s * 1_000), [], `still hung after ${s} s: not asked again yet`);
  }
  children[0].heartbeatAgeMs = 7_500;
  w.step({ kind: 'report', machine: 'm2', children: children }, T0 + 5_000);
  t.same(asks(w.step({ kind: 'tick' }, T0 + 5_000)), ['m2 worker 0 pid 101 silent'], 'asked again after the back-off');
});

t.test('its replacement is judged afresh: a new pid is a new child', async (t) => {
  const w = new RemoteChildWatch(options);
  const children = healthy();
  children[0].heartbeatAgeMs = 2_500;
  w.step({ kind: 'report', machine: 'm2', children: children }, T0);
  t.same(asks(w.step({ kind: 'tick' }, T0)), ['m2 worker 0 pid 101 silent']);
  const next = healthy([201, 102, 103]);
  next[0].heartbeatAgeMs = 3_000; // the replacement hangs too
  w.step({ kind: 'report', machine: 'm2', children: next }, T0 + 1_000);
  t.same(asks(w.step({ kind: 'tick' }, T0 + 1_000)), ['m2 worker 0 pid 201 silent']);
});

t.test('a starting child (never answered yet) is left to its supervisor', async (t) => {
  const w = new RemoteChildWatch(options);
  const children = healthy();
  children[2].heartbeatAgeMs = -1;
  for (let s = 0; s < 10; s++) {
    w.step({ kind: 'report', machine: 'm2', children: children }, T0 + s * 1_000);
    t.same(w.step({ kind: 'tick' }, T0 + s * 1_000), []);
  }
});

t.test('a slot missing from the reports longer than the limit is asked for with pid 0', async (t) => {
  const w = new RemoteChildWatch(options);
  const without = healthy().filter((c) => !(c.role === 'worker' && c.slot === 1));
  w.step({ kind: 'report', machine: 'm2', children: without }, T0);
  t.same(w.step({ kind: 'tick' }, T0), []);
  w.step({ kind: 'report', machine: 'm2', children: without }, T0 + 1_000);
  t.same(w.step({ kind: 'tick' }, T0 + 1_000), [], 'missing exactly 1 s: not yet');
  w.step({ kind: 'report', machine: 'm2', children: without }, T0 + 1_001);
  const due = w.step({ kind: 'tick' }, T0 + 1_001);
  t.same(asks(due), ['m2 worker 1 pid 0 missing']);
  t.equal(due[0].forMs, 1_001);
  w.step({ kind: 'report', machine: 'm2', children: without }, T0 + 2_000);
  t.same(w.step({ kind: 'tick' }, T0 + 2_000), [], 'asked once');
});

t.test('a slot that comes back restarts its missing clock', async (t) => {
  const w = new RemoteChildWatch(options);
  const without = healthy().filter((c) => c.role !== 'replicator');
  w.step({ kind: 'report', machine: 'm2', children: without }, T0);
  w.step({ kind: 'report', machine: 'm2', children: healthy() }, T0 + 900);
  w.step({ kind: 'report', machine: 'm2', children: without }, T0 + 1_800);
  t.same(w.step({ kind: 'tick' }, T0 + 1_800), [], 'missing twice, but never for more than 1 s at a stretch');
  w.step({ kind: 'report', machine: 'm2', children: without }, T0 + 2_801);
  t.same(asks(w.step({ kind: 'tick' }, T0 + 2_801)), ['m2 replicator 0 pid 0 missing']);
});

t.test('a machine whose supervisor does not answer is not judged', async (t) => {
  const w = new RemoteChildWatch(options);
  const hung = (base: number[]): ReportedChild[] => {
    const c = healthy(base);
    c[0].heartbeatAgeMs = 5_000;
    return c;
  };
  w.step({ kind: 'report', machine: 'm2', children: hung([101, 102, 103]) }, T0);
  w.step({ kind: 'unanswered', machine: 'm2' }, 0);
  t.same(w.step({ kind: 'tick' }, T0), [], 'a poll that failed drops its report');
  w.step({ kind: 'report', machine: 'm3', children: hung([301, 302, 303]) }, T0);
  t.same(w.step({ kind: 'tick' }, T0 + 2_001), [], 'a report grows stale when its supervisor stops answering');
  w.step({ kind: 'report', machine: 'm3', children: hung([301, 302, 303]) }, T0 + 3_000);
  t.same(asks(w.step({ kind: 'tick' }, T0 + 3_000)), ['m3 worker 0 pid 301 silent'], 'a machine that answers again is judged');
});

t.test('a slot missing before its supervisor went silent is timed afresh when it answers again', async (t) => {
  const w = new RemoteChildWatch(options);
  const without = healthy().filter((c) => c.slot !== 1);
  w.step({ kind: 'report', machine: 'm2', children: without }, T0);
  w.step({ kind: 'unanswered', machine: 'm2' }, 0);
  w.step({ kind: 'report', machine: 'm2', children: without }, T0 + 5_000);
  t.same(w.step({ kind: 'tick' }, T0 + 5_000), [], 'the revived supervisor gets the full limit');
  t.same(asks(w.step({ kind: 'tick' }, T0 + 6_001)), ['m2 worker 1 pid 0 missing']);
});

t.test('children that are not expected (guardians, the supervisor itself) are ignored', async (t) => {
  const w = new RemoteChildWatch(options);
  w.step({ kind: 'report', machine: 'm2', children: [...healthy(), { role: 'guardian', slot: 0, pid: 9, heartbeatAgeMs: 60_000 }] }, T0);
  t.same(w.step({ kind: 'tick' }, T0), []);
});

t.test('limits that are not positive are refused', async (t) => {
  t.throws(() => new RemoteChildWatch({ ...options, hungAfterMs: 0 }), /positive/);
});
