/**
 * A primary's decisions about its children, driven by a fake clock: children that
 * crash, crash-loop, hang, load slowly, and a primary that is itself paused (its
 * clock jumps ahead between two ticks). A hung child is killed within its limit, a
 * live one never; a crash loop backs off as 100 ms x 2^n up to 3 s; a slot never has
 * two children; the master's revival requests kill only a silent child of ours.
 * Deterministic: the randomized runs replay from their seed.
 */
import t from 'tap';
import {
  answerLevel,
  ChildSupervisor,
  type ChildAction,
} from '../../lib/control/child-supervisor';
import { MAX_REFORK_DELAY_MS, notAnsweringAfterMs, REPLICATOR_WAITS_MS, STARTUP_ALLOWANCE_MS } from '../../lib/control/timing-policy';
import { EXIT_REBUILD_INDEX } from '../../lib/common/exit-codes';
import { backoffMs, crashBackoff } from '../../lib/core/backoff';
import { SimNetwork } from '../helpers/sim-network';

const HEARTBEAT_MS = 200;
const DEAD_AFTER_MS = 1_000;

function supervisor(workers = 1): ChildSupervisor {
  return new ChildSupervisor({ workers, heartbeatMs: HEARTBEAT_MS, deadAfterMs: DEAD_AFTER_MS });
}
const kinds = (actions: ChildAction[]) => actions.map((a) => Object.keys(a)[0]);
/** The master's revival request: its answer (the first action) and what else it does. */
function revive(s: ChildSupervisor, role: string, slot: number, pid: number, now: number): { answer: string; actions: ChildAction[] } {
  const [first, ...actions] = s.step({ kind: 'reviveAsked', role, slot, pid }, now);
  return { answer: 'answer' in first ? first.answer : '(no answer)', actions };
}
/** Whether a delayed fork of `key` happens when its time comes. */
const due = (s: ChildSupervisor, key: string): boolean => s.step({ kind: 'due', key }, 0).length > 0;
const forks = (actions: ChildAction[]) => actions.flatMap((a) => ('fork' in a ? [a.fork.key] : []));
const kills = (actions: ChildAction[]) => actions.flatMap((a) => ('kill' in a ? [a.kill.key] : []));

t.test('at start it breaks a left-behind lock and forks every worker at once, the replicator once a worker serves', async (t) => {
  const s = supervisor(2);
  t.same(s.step({ kind: 'start' }, 0), [
    { breakLock: {} },
    { fork: { key: 'worker:0', delayMs: 0 } },
    { fork: { key: 'worker:1', delayMs: 0 } },
  ]);
  s.step({ kind: 'forked', key: 'worker:0', pid: 10 }, 0);
  s.step({ kind: 'forked', key: 'worker:1', pid: 11 }, 0);
  t.same(forks(s.step({ kind: 'tick' }, 1_000)), [], 'not while the workers load');
  t.same(forks(s.step({ kind: 'pong', key: 'worker:1', pid: 11, loading: true }, 1_500)), [], 'nor for a loading worker');
  t.same(s.step({ kind: 'pong', key: 'worker:1', pid: 11, loading: false }, 2_000), [{ serving: { key: 'worker:1' } }, { fork: { key: 'replicator', delayMs: 0 } }]);
  s.step({ kind: 'forked', key: 'replicator', pid: 12 }, 2_000);
  t.same(forks(s.step({ kind: 'pong', key: 'worker:0', pid: 10, loading: false }, 2_500)), [], 'once');
});

t.test('the replicator waits for a serving worker at most REPLICATOR_WAITS_MS', async (t) => {
  const s = supervisor(1);
  s.step({ kind: 'start' }, 0);
  s.step({ kind: 'forked', key: 'worker:0', pid: 10 }, 0);
  t.same(forks(s.step({ kind: 'tick' }, REPLICATOR_WAITS_MS - 1)), []);
  t.same(forks(s.step({ kind: 'tick' }, REPLICATOR_WAITS_MS)), ['replicator']);
  s.step({ kind: 'forked', key: 'replicator', pid: 12 }, REPLICATOR_WAITS_MS);
  t.same(forks(s.step({ kind: 'pong', key: 'worker:0', pid: 10, loading: false }, REPLICATOR_WAITS_MS + 1)), [], 'forked once');
});

t.test('a child serves on its first pong that is not "loading", and is told so once', async (t) => {
  const s = supervisor();
  s.step({ kind: 'forked', key: 'worker:0', pid: 11 }, 0);
  t.same(s.step({ kind: 'pong', key: 'worker:0', pid: 11, loading: true }, 100), [], 'loading');
  t.equal(s.view(100)[0].state, 'starting');
  t.same(s.step({ kind: 'pong', key: 'worker:0', pid: 11, loading: false }, 200), [{ serving: { key: 'worker:0' } }]);
  t.same(s.step({ kind: 'pong', key: 'worker:0', pid: 11, loading: false }, 300), [], 'once');
  t.same(s.step({ kind: 'pong', key: 'worker:0', pid: 99, loading: false }, 300), [], 'a pong from another pid is not this child\'s');
  t.same(s.view(300)[0], { role: 'worker', slot: 0, pid: 11, restarts: 0, heartbeatAgeMs: 0, state: 'up' });
});

t.test('a child that dies is re-forked at once, and a crash loop backs off up to 3 s', async (t) => {
  const s = supervisor();
  let now = 0;
  const delays: number[] = [];
  for (let pid = 1; pid <= 8; pid++) {
    s.step({ kind: 'forked', key: 'worker:0', pid: pid }, now);
    now += 100; // dies 100 ms after each start
    const actions = s.step({ kind: 'exited', key: 'worker:0', pid: pid, code: 1 }, now);
    t.same(kinds(actions), ['died', 'breakLock', 'fork'], 'its death is counted, and its lock (if it held it) broken before the re-fork');
    t.same(actions[1], { breakLock: { pid } });
    delays.push(actions.flatMap((a) => ('fork' in a ? [a.fork.delayMs] : []))[0]);
    t.notOk(due(s, 'x'), 'no such slot');
    t.ok(due(s, 'worker:0'), 'its slot is free');
  }
  t.same(delays, [0, 400, 800, 1600, 3000, 3000, 3000, 3000]);
  t.same(delays, [1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffMs(n, crashBackoff(MAX_REFORK_DELAY_MS))), 'the one back-off rule');
  s.step({ kind: 'forked', key: 'worker:0', pid: 9 }, now);
  now += 10_000; // healthy for a while
  const last = s.step({ kind: 'exited', key: 'worker:0', pid: 9, code: 1 }, now);
  t.same(last.at(-1), { fork: { key: 'worker:0', delayMs: 0 } }, 'a death after a healthy run is re-forked at once');
  t.equal(s.view(now).length, 0);
  t.same(last.flatMap((a) => ('died' in a ? [a.died.restarts] : [])), [9], 'the ninth restart of the slot');
});

t.test('each death that is re-forked counts one restart of its slot, with what ended it and the delay', async (t) => {
  const s = supervisor(2);
  s.step({ kind: 'forked', key: 'worker:1', pid: 5 }, 0);
  const died = (actions: ChildAction[]) => actions.flatMap((a) => ('died' in a ? [a.died] : []));
  t.same(died(s.step({ kind: 'exited', key: 'worker:1', pid: 5, code: null, signal: 'SIGKILL' }, 100)), [
    { key: 'worker:1', role: 'worker', slot: 1, pid: 5, code: null, signal: 'SIGKILL', restarts: 1, delayMs: 0 },
  ]);
  s.step({ kind: 'forked', key: 'worker:1', pid: 6 }, 100);
  t.same(died(s.step({ kind: 'exited', key: 'worker:1', pid: 6, code: 1 }, 200)).map((d) => [d.restarts, d.signal, d.delayMs]), [[2, null, 400]], 'a second quick death: backed off');
  s.step({ kind: 'forked', key: 'worker:1', pid: 7 }, 600);
  t.same(died(s.step({ kind: 'exited', key: 'worker:1', pid: 7, code: 3 }, 20_000)).map((d) => [d.restarts, d.delayMs]), [[3, 0]], 'after a healthy run: at once');
  s.step({ kind: 'forked', key: 'worker:1', pid: 8 }, 20_001);
  s.step({ kind: 'stop' }, 20_001);
  t.same(died(s.step({ kind: 'exited', key: 'worker:1', pid: 8, code: 0 }, 20_002)), [], 'a death while stopping is no restart');
});

t.test('a child that dropped the machine index makes the others reload', async (t) => {
  const s = supervisor(2);
  s.step({ kind: 'forked', key: 'worker:0', pid: 1 }, 0);
  s.step({ kind: 'forked', key: 'worker:1', pid: 2 }, 0);
  t.same(kinds(s.step({ kind: 'exited', key: 'worker:0', pid: 1, code: EXIT_REBUILD_INDEX }, 10_000)), ['died', 'breakLock', 'restartOthers', 'fork']);
  t.equal(revive(s, 'worker', 1, 2, 10_001).answer, 'none: already killed', 'the others are on their way out');
});

t.test('after stop nothing is forked and deaths are not restarts', async (t) => {
  const s = supervisor();
  s.step({ kind: 'forked', key: 'worker:0', pid: 1 }, 0);
  s.step({ kind: 'stop' }, 0);
  t.same(kinds(s.step({ kind: 'exited', key: 'worker:0', pid: 1, code: 0 }, 100)), ['breakLock']);
  t.notOk(due(s, 'worker:0'));
  t.equal(revive(s, 'worker', 0, 0, 100).answer, 'none: stopping');
});

t.test('the master\'s revival requests: only a silent child of ours is killed', async (t) => {
  const s = supervisor();
  s.step({ kind: 'forked', key: 'worker:0', pid: 7 }, 0);
  s.step({ kind: 'pong', key: 'worker:0', pid: 7, loading: false }, 100);
  t.equal(revive(s, 'replicator', 3, 7, 200).answer, 'none: no replicator 3 here');
  t.equal(revive(s, 'worker', 0, 7, 200).answer, 'none: it answers');
  t.equal(revive(s, 'worker', 0, 12345, 5_000).answer, 'none: already replaced', 'a pid that is not our child in that slot is never killed');
  const silent = 100 + notAnsweringAfterMs(DEAD_AFTER_MS);
  t.equal(revive(s, 'worker', 0, 7, silent - 1).answer, 'none: it answers', 'just under the limit');
  const { answer, actions } = revive(s, 'worker', 0, 7, silent);
  t.equal(answer, 'killed');
  t.same(kills(actions), ['worker:0']);
  t.equal(revive(s, 'worker', 0, 7, silent + 1).answer, 'none: already killed');
  s.step({ kind: 'exited', key: 'worker:0', pid: 7, code: null }, silent + 2);
  t.same(revive(s, 'worker', 0, 0, silent + 3), { answer: 'forked', actions: [{ fork: { key: 'worker:0', delayMs: 0 } }] });
});

t.test("a revival that did nothing is logged as routine, one that killed or forked as news", async (t) => {
  t.same(['none: it answers', 'none: stopping', 'killed', 'forked'].map(answerLevel), ['info', 'info', 'warn', 'warn']);
});

t.test('a loading child has the startup allowance; a serving one the failure timeout', async (t) => {
  const s = supervisor();
  s.step({ kind: 'forked', key: 'worker:0', pid: 1 }, 0);
  s.step({ kind: 'pong', key: 'worker:0', pid: 1, loading: true }, 0);
  t.equal(revive(s, 'worker', 0, 1, STARTUP_ALLOWANCE_MS - 1).answer, 'none: it answers', 'silent 30 s while loading: still its allowance');
  t.equal(revive(s, 'worker', 0, 1, STARTUP_ALLOWANCE_MS).answer, 'killed');
});

// ---------------------------------------------------------------------------
// Randomized runs.

const SEEDS = 300;
const RUN_MS = 120_000;

interface Report {
  seed: number;
  problems: string[];
  hangsKilled: number;
  stalls: number;
  flapDelays: number[];
}

function simulate(seed: number): Report {
  const report: Report = { seed, problems: [], hangsKilled: 0, stalls: 0, flapDelays: [] };
  const sim = new SimNetwork<never>({ seed }, { deliver: () => undefined, failed: () => undefined });
  const random = sim.random;
  const workers = 1 + Math.floor(random() * 3);
  const sup = supervisor(workers);
  const watched = random() < 0.4; // the master polls this machine
  const behaviours = new Map(sup.specs.map((s) => [s.key, (['healthy', 'crashes', 'flaps', 'hangs', 'slow-loader'] as const)[Math.floor(random() * 5)]]));
  // The primary itself is paused once (SIGSTOP, or starved): nothing runs, its clock jumps on.
  const stall = random() < 0.6 ? { from: 5_000 + random() * 60_000, ms: 2_000 + random() * 20_000 } : undefined;
  if (stall) report.stalls++;
  const stalled = (): boolean => !!stall && sim.now >= stall.from && sim.now < stall.from + stall.ms;
  /** Runs `fn` in the primary: at once, or when its pause ends. */
  const inPrimary = (fn: () => void): void => (stalled() ? sim.at(stall!.from + stall!.ms, fn) : fn());

  interface Child { key: string; pid: number; bornAt: number; loadMs: number; hungAt?: number; lastAnswer: number; alive: boolean; incarnation: number; served: boolean }
  const live = new Map<string, Child>();
  const incarnations = new Map<string, number>();
  const emptySince = new Map<string, number>();
  let nextPid = 100;

  const exit = (c: Child, code: number | null): void => {
    if (!c.alive) return;
    c.alive = false;
    live.delete(c.key);
    emptySince.set(c.key, sim.now);
    inPrimary(() => act(sup.step({ kind: 'exited', key: c.key, pid: c.pid, code }, sim.now)));
  };
  const fork = (key: string): void => {
    if (live.has(key)) report.problems.push(`seed ${seed}: ${key} forked while ${live.get(key)!.pid} runs`);
    const n = (incarnations.get(key) ?? 0) + 1;
    incarnations.set(key, n);
    const behaviour = behaviours.get(key)!;
    const loadMs = behaviour === 'slow-loader' && n === 1 ? 15_000 + random() * 12_000 : random() * 3_000;
    const c: Child = { key, pid: nextPid++, bornAt: sim.now, loadMs, lastAnswer: sim.now, alive: true, incarnation: n, served: false };
    live.set(key, c);
    emptySince.delete(key);
    sup.step({ kind: 'forked', key, pid: c.pid }, sim.now);
    if (behaviour === 'crashes' && n <= 3) sim.at(sim.now + 6_000 + random() * 20_000, () => exit(c, 1));
    if (behaviour === 'flaps' && n <= 6) sim.at(sim.now + 50 + random() * 2_000, () => exit(c, 1));
    if (behaviour === 'hangs' && n <= 2) sim.at(sim.now + loadMs + 2_000 + random() * 20_000, () => (c.hungAt = sim.now));
  };
  function act(actions: ChildAction[]): void {
    for (const a of actions) {
      if ('fork' in a) {
        const { key, delayMs } = a.fork;
        if (behaviours.get(key) === 'flaps' && delayMs > 0) report.flapDelays.push(delayMs);
        if (delayMs > MAX_REFORK_DELAY_MS) report.problems.push(`seed ${seed}: a re-fork put off ${delayMs} ms`);
        if (delayMs === 0) fork(key);
        else sim.at(sim.now + delayMs, () => inPrimary(() => act(sup.step({ kind: 'due', key }, sim.now))));
      } else if ('ping' in a) {
        const c = live.get(a.ping.key);
        // A child answers unless hung; a loading one is sometimes seconds late (its host is loaded).
        if (c && c.hungAt === undefined) {
          const loading = sim.now < c.bornAt + c.loadMs;
          const late = loading && random() < 0.2 ? random() * 5_000 : 1 + random() * 50;
          sim.at(sim.now + late, () => {
            if (!c.alive || c.hungAt !== undefined) return;
            c.lastAnswer = sim.now;
            const loadingThen = sim.now < c.bornAt + c.loadMs;
            inPrimary(() => {
              if (!loadingThen) c.served = true;
              act(sup.step({ kind: 'pong', key: c.key, pid: c.pid, loading: loadingThen }, sim.now));
            });
          });
        }
      } else if ('kill' in a) {
        const c = live.get(a.kill.key);
        if (!c || c.pid !== a.kill.pid) report.problems.push(`seed ${seed}: killed ${a.kill.pid}, not the slot's child`);
        else if (c.hungAt === undefined) report.problems.push(`seed ${seed}: killed ${c.key} (${behaviours.get(c.key)}), which answers (${Math.round(sim.now - c.lastAnswer)} ms since)`);
        else {
          // A watched primary leaves it to the master, or kills it after ten timeouts; alone, after three.
          // One that never served (its answers came while the primary was paused) has the startup allowance.
          const served = (watched ? notAnsweringAfterMs(DEAD_AFTER_MS) + 2_000 : 3 * DEAD_AFTER_MS) + 2 * sup.pingEveryMs + 100;
          const limit = c.served ? served : STARTUP_ALLOWANCE_MS + 2 * sup.pingEveryMs + 100;
          const pausedMeanwhile = stall && stall.from + stall.ms > c.hungAt ? stall.ms : 0;
          if (sim.now - c.hungAt > limit + pausedMeanwhile) report.problems.push(`seed ${seed}: ${c.key} killed ${Math.round(sim.now - c.hungAt)} ms after it hung`);
          report.hangsKilled++;
        }
        if (c) sim.at(sim.now + 5, () => exit(c, null));
      }
    }
  }

  act(sup.step({ kind: 'start' }, 0));
  const tick = (): void => {
    if (stalled()) return sim.at(stall!.from + stall!.ms, tick); // a timer fires once after a pause
    act(sup.step({ kind: 'tick' }, sim.now));
    sim.at(sim.now + sup.pingEveryMs, tick);
  };
  sim.at(sup.pingEveryMs, tick);
  if (watched) {
    // The master's poll: asks for any child its report shows silent past the limit.
    sim.every(1_000, 500, RUN_MS, () =>
      inPrimary(() => {
        for (const v of sup.view(sim.now)) {
          if (v.heartbeatAgeMs > notAnsweringAfterMs(DEAD_AFTER_MS)) act(revive(sup, v.role, v.slot, v.pid, sim.now).actions);
        }
        sup.step({ kind: 'masterSeen' }, sim.now);
      }),
    );
  }
  sim.every(100, 0, RUN_MS, () => {
    for (const [key, since] of emptySince) {
      if (sim.now - since > MAX_REFORK_DELAY_MS + 200 + (stall ? stall.ms : 0)) {
        report.problems.push(`seed ${seed}: ${key} empty for ${Math.round(sim.now - since)} ms`);
        emptySince.delete(key);
      }
    }
  });
  sim.runUntil(RUN_MS);
  for (const s of sup.specs) if (!live.has(s.key)) report.problems.push(`seed ${seed}: ${s.key} has no child at the end`);
  return report;
}

t.test(`children that crash, flap, hang and load slowly, under a primary that pauses (${SEEDS} seeds)`, async (t) => {
  const runs = Array.from({ length: SEEDS }, (_, i) => simulate(i + 1));
  t.same(runs.flatMap((r) => r.problems).slice(0, 5), [], 'every hung child killed in time, no live one ever, no slot doubled or left empty');
  t.ok(runs.reduce((n, r) => n + r.hangsKilled, 0) > SEEDS / 4, 'many hung children were killed');
  t.ok(runs.filter((r) => r.stalls > 0).length > SEEDS / 3, 'many runs paused the primary');
  const delays = new Set(runs.flatMap((r) => r.flapDelays));
  t.same([...delays].sort((a, b) => a - b), [400, 800, 1600, 3000], 'crash loops backed off 400, 800, 1600, then 3000 ms');
});

t.test('without the pause rule, a primary that was paused would kill its live children', async (t) => {
  const s = supervisor();
  s.step({ kind: 'forked', key: 'worker:0', pid: 1 }, 0);
  s.step({ kind: 'pong', key: 'worker:0', pid: 1, loading: false }, 10);
  s.step({ kind: 'tick' }, 1_000);
  t.same(kills(s.step({ kind: 'tick' }, 9_000)), [], 'the first tick after an 8 s pause judges no one: their answers are still to come');
  s.step({ kind: 'pong', key: 'worker:0', pid: 1, loading: false }, 9_010);
  t.same(kills(s.step({ kind: 'tick' }, 10_000)), []);
  t.same(kills(s.step({ kind: 'tick' }, 14_000)), [], 'a gap of 4 s is a pause too');
  t.same(kills(s.step({ kind: 'tick' }, 15_000)), ['worker:0'], 'silent ever since, at one tick a second: killed');
});
