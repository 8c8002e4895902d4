/**
 * The design's promise for a master kill, checked on the takeover's state machines
 * (Takeover, and the guardians' Reviver with PrimaryVerdict) in a seeded
 * simulation of one machine: primaries killed and paused, guardians killed and
 * paused, extra starts by hand, and a lossy ring. Two primaries never act in one
 * term nor at once, and a killed primary is back within its bound: under 1 s on a
 * calm ring, within the guardians' fallback on a lossy one. Deterministic: a failing
 * seed replays exactly.
 */
import t from 'tap';
import { MAX_SPAWN_MS, POLICY, TakeoverWorld } from '../helpers/takeover-world';

const SEEDS = 150;
const WINDOW_MS = 25_000;
const WINDOWS = 8;
const START_MS = 3_000;

type Fault = 'kill primary' | 'pause primary' | 'start by hand' | 'kill guardian' | 'pause guardian';

interface Run {
  seed: number;
  lossy: boolean;
  standby?: boolean;
  violations: string[];
  /** Per primary fault: which, how long until a primary acted again, and its bound. */
  recoveries: { fault: Fault; at: number; backMs: number | undefined; boundMs: number }[];
  fences: number;
  standbys: number;
  stepDowns: number;
  probeAnswers: { recorded: number; other: number };
}

const ring = (n: number): number => 2 * n * 20;
/** A kill on a calm ring: the stream breaks, the pid is seen gone, one ring round, a spawn, bind and charge, a tick apart. */
const CALM_KILL_MS = 1_000;
/** A kill beside a warm standby: its link breaks, one question refused, bind and charge (one still probing sees the death at a look). */
const STANDBY_KILL_MS = 400;
/** A pause: silence past the failure timeout, a ring round, a spawn, the fence's probe, its kill. */
const calmPauseMs = (n: number): number => POLICY.deadAfterMs + POLICY.heartbeatMs + ring(n) + MAX_SPAWN_MS + POLICY.fenceSilenceMs + 300;
/** A lossy ring: the last guardian's fallback after its own sight of the death, and one more grace if a start was under way. */
const lossyMs = (n: number): number => POLICY.deadAfterMs + POLICY.heartbeatMs + 2 * (POLICY.reviveGraceMs + n * POLICY.electionTimeoutMs) + MAX_SPAWN_MS + POLICY.fenceSilenceMs;

function simulate(seed: number, lossy: boolean, standby = false): Run {
  const pick = new TakeoverWorld(seed, 1, {}).random; // a stream of its own for the scenario's shape
  const n = 1 + Math.floor(pick() * 3);
  const faults = lossy ? { lossRate: pick() * 0.3, duplicateRate: pick() * 0.2, falseFailureRate: pick() * 0.2 } : {};
  const world = new TakeoverWorld(seed, n, faults, standby);
  const run: Run = { seed, lossy, standby, violations: [], recoveries: [], fences: 0, standbys: 0, stepDowns: 0, probeAnswers: { recorded: 0, other: 0 } };
  world.startPrimary();
  for (let slot = 0; slot < n; slot++) world.startGuardian(slot);
  const pauseMs = (): number => 100 + Math.floor(pick() * 4_000);

  for (let w = 0; w < WINDOWS; w++) {
    const at = START_MS + w * WINDOW_MS + Math.floor(pick() * 1_000);
    const r = pick();
    const fault: Fault = r < 0.45 ? 'kill primary' : r < 0.65 ? 'pause primary' : r < 0.75 ? 'start by hand' : r < 0.875 ? 'kill guardian' : 'pause guardian';
    const slot = Math.floor(pick() * n);
    const ms = pauseMs();
    world.net.at(at, () => {
      if (fault === 'kill primary') world.kill(world.actingPid());
      else if (fault === 'pause primary') world.pause(world.actingPid(), ms);
      else if (fault === 'start by hand') world.startPrimary();
      else if (fault === 'kill guardian') world.kill(world.guardianPid(slot));
      else world.pause(world.guardianPid(slot), ms);
    });
    // On a lossy ring a guardian may be down at the same time (its keeper revives it).
    if (lossy && pick() < 0.3) {
      const other = Math.floor(pick() * n);
      const kill = pick() < 0.5;
      const when = at + Math.floor(pick() * 2_000);
      const otherMs = pauseMs();
      world.net.at(when, () => (kill ? world.kill(world.guardianPid(other)) : world.pause(world.guardianPid(other), otherMs)));
    }
    if (fault === 'kill primary' || fault === 'pause primary') {
      const killMs = standby ? STANDBY_KILL_MS : CALM_KILL_MS;
      const boundMs = lossy ? lossyMs(n) : fault === 'kill primary' ? killMs : calmPauseMs(n);
      run.recoveries.push({ fault, at, backMs: undefined, boundMs });
    }
  }
  world.net.runUntil(START_MS + WINDOWS * WINDOW_MS);
  const report = world.report;
  for (const rec of run.recoveries) {
    const back = report.actingFrom.find((x) => x > rec.at);
    rec.backMs = back === undefined ? undefined : back - rec.at;
  }
  run.violations = report.violations;
  run.fences = report.fences;
  run.standbys = report.standbys;
  run.stepDowns = report.stepDowns;
  run.probeAnswers = report.probeAnswers;
  return run;
}

/** A storm: faults of every kind every 0.1-3 s on a lossy ring, overlapping; only safety is judged. */
function storm(seed: number): Run {
  const world = new TakeoverWorld(seed, 1 + (seed % 3), { lossRate: 0.1, duplicateRate: 0.1, falseFailureRate: 0.1 }, seed % 2 === 0);
  const pick = world.random;
  world.startPrimary();
  for (let slot = 0; slot < world.guardians; slot++) world.startGuardian(slot);
  const end = 120_000;
  for (let at = START_MS; at < end; at += 100 + Math.floor(pick() * 2_900)) {
    const r = pick();
    const ms = 100 + Math.floor(pick() * 3_000);
    const slot = Math.floor(pick() * world.guardians);
    world.net.at(at, () => {
      if (r < 0.3) world.kill(world.actingPid());
      else if (r < 0.5) world.pause(world.actingPid(), ms);
      else if (r < 0.7) world.startPrimary();
      else if (r < 0.85) world.kill(world.guardianPid(slot));
      else world.pause(world.guardianPid(slot), ms);
    });
  }
  world.net.runUntil(end);
  const { violations, fences, standbys, stepDowns, probeAnswers } = world.report;
  return { seed, lossy: true, violations, recoveries: [], fences, standbys, stepDowns, probeAnswers };
}

const calm = Array.from({ length: SEEDS }, (_, i) => simulate(i + 1, false));
const lossy = Array.from({ length: SEEDS }, (_, i) => simulate(i + 1, true));
const storms = Array.from({ length: SEEDS / 3 }, (_, i) => storm(i + 1));
const warmCalm = Array.from({ length: SEEDS / 3 }, (_, i) => simulate(i + 1, false, true));
const warmLossy = Array.from({ length: SEEDS / 3 }, (_, i) => simulate(i + 1, true, true));
const all = [...calm, ...lossy, ...storms, ...warmCalm, ...warmLossy];

t.test(`two primaries never act in one term, nor at once, and every takeover raises the term (${all.length} runs)`, async (t) => {
  const bad = all.flatMap((r) => r.violations.map((v) => `seed ${r.seed}${r.lossy ? ' lossy' : ''}${r.standby ? ' standby' : ''}: ${v}`));
  t.same(bad.slice(0, 5), []);
  t.ok(all.some((r) => r.fences > 0), `paused primaries were fenced (${all.reduce((s, r) => s + r.fences, 0)} fences)`);
  t.ok(all.some((r) => r.standbys > 0), `starts beside a live primary stood by (${all.reduce((s, r) => s + r.standbys, 0)} times)`);
  const answers = (who: 'recorded' | 'other'): number => all.reduce((s, r) => s + r.probeAnswers[who], 0);
  t.ok(answers('recorded') > 0, `probes were answered by the recorded primary (${answers('recorded')} times; by another holder of the port ${answers('other')})`);
});

function late(runs: Run[], fault: Fault): string[] {
  return runs.flatMap((r) =>
    r.recoveries
      .filter((x) => x.fault === fault && (x.backMs === undefined || x.backMs > x.boundMs))
      .map((x) => `seed ${r.seed}: ${fault} at ${x.at}: back after ${x.backMs} ms (bound ${x.boundMs})`),
  );
}

function spread(runs: Run[], fault: Fault): string {
  const back = runs.flatMap((r) => r.recoveries.filter((x) => x.fault === fault).map((x) => x.backMs!)).sort((a, b) => a - b);
  return `${fault}, ${back.length} times: back after median ${back[back.length >> 1]} ms, max ${back.at(-1)} ms`;
}

t.test(`on a calm ring a killed primary is back within ${CALM_KILL_MS} ms, a paused one within the fence`, async (t) => {
  t.same(late(calm, 'kill primary').slice(0, 5), []);
  t.same(late(calm, 'pause primary').slice(0, 5), []);
  t.comment(spread(calm, 'kill primary'));
  t.comment(spread(calm, 'pause primary'));
});

t.test('on a lossy ring, with guardians down at once, every killed or paused primary is back within the fallback', async (t) => {
  t.same(late(lossy, 'kill primary').slice(0, 5), []);
  t.same(late(lossy, 'pause primary').slice(0, 5), []);
  t.comment(spread(lossy, 'kill primary'));
});

t.test(`beside a warm standby a killed primary is back within ${STANDBY_KILL_MS} ms on a calm ring, and within the fallback on a lossy one`, async (t) => {
  t.same(late(warmCalm, 'kill primary').slice(0, 5), []);
  t.same(late(warmCalm, 'pause primary').slice(0, 5), [], 'a paused one is fenced as before');
  t.same(late(warmLossy, 'kill primary').slice(0, 5), []);
  t.comment(spread(warmCalm, 'kill primary'));
  t.comment(spread(warmLossy, 'kill primary'));
});
