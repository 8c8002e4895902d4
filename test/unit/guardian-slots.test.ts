/**
 * A primary's decisions about its guardian slots, driven by a fake clock:
 * guardians that crash, hang, flap, start slowly or never, and a primary that is
 * paused. A slot whose guardian is gone gets a new one within its limit; a slot
 * whose guardian beats is never given a second one.
 * Deterministic: the randomized runs replay from their seed.
 */
import t from 'tap';
import { GuardianSlots, guardianSlotsOptions, type SlotAction } from '../../lib/control/guardian-slots';
import { timingPolicy } from '../../lib/control/timing-policy';
import { SimNetwork } from '../helpers/sim-network';

// As the keeper sets them up from cluster.json's default timing.
const DEFAULT_TIMING = { heartbeatMs: 200, suspectAfterMs: 600, deadAfterMs: 1000, electionTimeoutMs: 1000, startupGraceMs: 1500 };
const OPTIONS = guardianSlotsOptions(2, timingPolicy(DEFAULT_TIMING));
const BEAT_MS = OPTIONS.detector.heartbeatMs;
const PRIMARY_BEAT_MS = DEFAULT_TIMING.heartbeatMs;
const spawns = (actions: SlotAction[]) => actions.flatMap((a) => ('spawn' in a ? [`${a.spawn.slot}:${a.spawn.why}`] : []));
const replacing = (actions: SlotAction[]) => actions.flatMap((a) => ('spawn' in a ? [a.spawn.replacing] : []));

t.test('guardians alive from before are adopted; an empty slot is filled soon after the start', async (t) => {
  const g = new GuardianSlots(OPTIONS, 0);
  g.step({ kind: 'hello', slot: 0, pid: 501 }, 100);
  t.same(spawns(g.step({ kind: 'tick' }, 200)), []);
  t.same(spawns(g.step({ kind: 'tick' }, 600)), [], 'slot 1 still has its few beats to show up');
  t.same(spawns(g.step({ kind: 'tick' }, 601)), ['1:none showed up']);
  g.step({ kind: 'spawned', slot: 1, pid: 777 }, 0);
  t.same(g.view(700).map((v) => [v.slot, v.pid, v.state, v.restarts]), [[0, 501, 'up', 0], [1, 777, 'starting', 0]]);
});

t.test('a silent guardian is replaced after the failure timeout; a spawned one gets its grace', async (t) => {
  const g = new GuardianSlots({ ...OPTIONS, slots: 1 }, 0);
  g.step({ kind: 'hello', slot: 0, pid: 501 }, 0);
  for (let now = 1_000; now <= 3_000; now += 1_000) g.step({ kind: 'beaten', slot: 0 }, now);
  t.same(spawns(g.step({ kind: 'tick' }, 5_999)), [], 'silent just under 3 s');
  const silent = g.step({ kind: 'tick' }, 6_000);
  t.same(spawns(silent), ['0:silent']);
  t.same(replacing(silent), [501], 'naming the silent one, which the primary kills first if it is its own child');
  g.step({ kind: 'spawned', slot: 0, pid: 502 }, 0);
  t.same(spawns(g.step({ kind: 'tick' }, 10_999)), [], 'the newcomer has 5 s to beat');
  t.same(spawns(g.step({ kind: 'tick' }, 11_000)), ['0:silent'], 'it never did');
  g.step({ kind: 'spawned', slot: 0, pid: 503 }, 0);
  g.step({ kind: 'hello', slot: 0, pid: 503 }, 11_100);
  t.equal(g.view(11_100)[0].state, 'up', 'the one we spawned, saying hello, is up at once');
  t.equal(g.view(11_000)[0].restarts, 2);
});

t.test('the spawn grace holds even when the failure timeout is longer', async (t) => {
  const g = new GuardianSlots({ ...OPTIONS, slots: 1, detector: { heartbeatMs: 1_000, suspectAfterMs: 30_000, deadAfterMs: 60_000 } }, 0);
  t.same(spawns(g.step({ kind: 'tick' }, 601)), ['0:none showed up']);
  g.step({ kind: 'spawned', slot: 0, pid: 10 }, 0);
  t.same(spawns(g.step({ kind: 'tick' }, 5_600)), [], 'within the spawn grace');
  t.same(spawns(g.step({ kind: 'tick' }, 5_601)), ['0:silent'], 'never beat: spawned again after 5 s, not 60');
  g.step({ kind: 'spawned', slot: 0, pid: 11 }, 0);
  g.step({ kind: 'beaten', slot: 0 }, 6_000);
  t.same(spawns(g.step({ kind: 'tick' }, 65_999)), [], 'once heard, the failure timeout applies');
  t.same(spawns(g.step({ kind: 'tick' }, 66_000)), ['0:silent']);
});

t.test('a guardian whose stream broke and pid died is replaced at once, once', async (t) => {
  const g = new GuardianSlots({ ...OPTIONS, slots: 1 }, 0);
  g.step({ kind: 'hello', slot: 0, pid: 501 }, 0);
  t.same(g.step({ kind: 'streamBroken', slot: 0, pid: 501 }, 5), [{ checkExit: { slot: 0, pid: 501, withinMs: 500 } }], 'its stream broke: is its pid dead?');
  t.same(g.step({ kind: 'exited', slot: 0, pid: 999 }, 10), [], 'not the slot\'s guardian');
  t.same(spawns(g.step({ kind: 'exited', slot: 0, pid: 501 }, 10)), ['0:exited']);
  t.same(g.step({ kind: 'exited', slot: 0, pid: 501 }, 11), [], 'a replacement is on its way');
  t.same(g.step({ kind: 'streamBroken', slot: 0, pid: 501 }, 12), [], 'its stream breaking is no news now');
});

t.test('the same pid saying hello again is not a beat; only its beat file says it still runs', async (t) => {
  const g = new GuardianSlots({ ...OPTIONS, slots: 1 }, 0);
  g.step({ kind: 'hello', slot: 0, pid: 501 }, 0);
  for (let now = 500; now < 3_000; now += 500) g.step({ kind: 'hello', slot: 0, pid: 501 }, now);
  t.same(spawns(g.step({ kind: 'tick' }, 3_000)), ['0:silent'], 'hellos on the stream kept nothing alive');
});

t.test("the slots' limits come from the timing policy: guardians beat slowly, so silence counts only past three of their beats", async (t) => {
  t.same(OPTIONS, { slots: 2, detector: { heartbeatMs: 1_000, suspectAfterMs: 2_000, deadAfterMs: 3_000 }, firstConnectMs: 600, spawnGraceMs: 5_000, exitGraceMs: 500 });
  const slow = guardianSlotsOptions(1, timingPolicy({ ...DEFAULT_TIMING, heartbeatMs: 1_000, suspectAfterMs: 5_000, deadAfterMs: 8_000 }));
  t.same(slow.detector, { heartbeatMs: 1_000, suspectAfterMs: 5_000, deadAfterMs: 8_000 }, "a longer failure timeout in cluster.json holds for guardians too");
  t.equal(slow.firstConnectMs, 3_000, 'an empty slot waits three primary beats');
});

t.test("a spawn counts as the slot's restart only if the slot had a guardian before", async (t) => {
  const g = new GuardianSlots({ ...OPTIONS, slots: 1 }, 0);
  const first = g.step({ kind: 'tick' }, 601);
  t.same(first.map((a) => 'spawn' in a && a.spawn.restart), [false], 'the first guardian of an empty slot');
  g.step({ kind: 'spawned', slot: 0, pid: 10 }, 601);
  t.same(g.step({ kind: 'tick' }, 5_601).map((a) => 'spawn' in a && a.spawn.restart), [true], 'its silent newcomer spawned again');
  t.equal(g.view(5_601)[0].restarts, 1);
});

t.test('once the primary stops, no slot gets a guardian, whatever happens', async (t) => {
  const g = new GuardianSlots({ ...OPTIONS, slots: 1 }, 0);
  g.step({ kind: 'hello', slot: 0, pid: 501 }, 0);
  t.equal(g.stopping, false);
  t.same(g.step({ kind: 'stopping' }, 10), []);
  t.equal(g.stopping, true, 'guardians saying hello now are told the machine stops');
  t.same(g.step({ kind: 'streamBroken', slot: 0, pid: 501 }, 20), [], 'its guardian exiting is no news');
  t.same(g.step({ kind: 'exited', slot: 0, pid: 501 }, 30), []);
  t.same(g.step({ kind: 'tick' }, 60_000), [], 'nor is any silence');
});

// ---------------------------------------------------------------------------

const SEEDS = 300;
const RUN_MS = 90_000;

function simulate(seed: number): string[] {
  const problems: string[] = [];
  const sim = new SimNetwork<never>({ seed }, { deliver: () => undefined, failed: () => undefined });
  const random = sim.random;
  const slots = 1 + Math.floor(random() * 3);
  const g = new GuardianSlots({ ...OPTIONS, slots }, 0);
  interface Guardian { pid: number; slot: number; alive: boolean; hung: boolean; startMs: number; lastBeat?: number; own: boolean }
  const current = new Map<number, Guardian>(); // slot -> the guardian holding it
  const lostSince = new Map<number, number>();
  let nextPid = 500;
  const stall = random() < 0.5 ? { from: 10_000 + random() * 40_000, ms: 1_000 + random() * 10_000 } : undefined;
  const stopAt = random() < 0.3 ? 20_000 + random() * 60_000 : Infinity;
  const restarts = Array.from({ length: slots }, () => 0);
  const paused = (): boolean => !!stall && sim.now >= stall.from && sim.now < stall.from + stall.ms;

  const lose = (gd: Guardian, how: 'crash' | 'hang'): void => {
    if (!gd.alive || gd.hung) return;
    if (how === 'crash') gd.alive = false;
    else gd.hung = true;
    lostSince.set(gd.slot, sim.now);
    if (how === 'crash') {
      // Its stream breaks; the primary checks the pid (dead) and reports it.
      const check = (): void => (paused() ? sim.at(stall!.from + stall!.ms, check) : act(g.step({ kind: 'streamBroken', slot: gd.slot, pid: gd.pid }, sim.now)));
      sim.at(sim.now + 1 + random() * 500, check);
    }
  };
  const start = (slot: number, own: boolean): Guardian => {
    const gd: Guardian = { pid: nextPid++, slot, alive: true, hung: false, startMs: 100 + random() * (random() < 0.1 ? 8_000 : 2_000), own };
    const holder = current.get(slot);
    if (holder && holder.alive) {
      gd.alive = false; // the slot's port is taken: the newcomer exits at once
      return gd;
    }
    current.set(slot, gd);
    sim.at(sim.now + gd.startMs, () => {
      if (!gd.alive) return;
      lostSince.delete(slot);
      const hello = (): void => {
        if (paused()) return sim.at(stall!.from + stall!.ms, hello);
        g.step({ kind: 'hello', slot, pid: gd.pid }, sim.now);
      };
      hello();
      const beat = (): void => {
        if (!gd.alive || gd.hung) return;
        beatFiles.add(slot);
        gd.lastBeat = sim.now;
        sim.at(sim.now + BEAT_MS, beat);
      };
      beat();
      const fate = random();
      const when = sim.now + 1_000 + random() * 30_000;
      if (fate < 0.3) sim.at(when, () => lose(gd, 'crash'));
      else if (fate < 0.5) sim.at(when, () => lose(gd, 'hang'));
      else if (fate < 0.6) sim.at(sim.now + 50 + random() * 500, () => lose(gd, 'crash')); // flaps
    });
    return gd;
  };
  function act(actions: SlotAction[]): void {
    for (const a of actions) {
      if ('checkExit' in a) {
        const { slot, pid } = a.checkExit;
        if (current.get(slot)?.pid !== pid || !current.get(slot)!.alive) act(g.step({ kind: 'exited', slot, pid }, sim.now));
        continue;
      }
      const { slot, replacing, restart } = a.spawn;
      if (sim.now >= stopAt) problems.push(`seed ${seed}: slot ${slot} given a guardian after the primary stopped`);
      if (restart) restarts[slot]++;
      const holder = current.get(slot);
      if (holder?.hung && holder.pid === replacing) {
        if (holder.own) holder.alive = false; // the primary kills its own hung child first
        else lostSince.delete(slot); // one it did not spawn it cannot signal: the slot stays with it (README)
      }
      if (holder?.alive && !holder.hung && holder.lastBeat !== undefined && sim.now - holder.lastBeat < 2 * BEAT_MS) {
        problems.push(`seed ${seed}: slot ${slot} given a second guardian while ${holder.pid} beats`);
      }
      const gd = start(slot, true);
      g.step({ kind: 'spawned', slot, pid: gd.pid }, 0);
    }
  }
  // Guardians alive from before the primary's start, in some slots.
  for (let slot = 0; slot < slots; slot++) if (random() < 0.6) start(slot, false);
  const beatFiles = new Set<number>();
  const tick = (): void => {
    if (paused()) return sim.at(stall!.from + stall!.ms, tick);
    for (const slot of beatFiles) g.step({ kind: 'beaten', slot: slot }, sim.now);
    beatFiles.clear();
    act(g.step({ kind: 'tick' }, sim.now));
    sim.at(sim.now + PRIMARY_BEAT_MS, tick);
  };
  sim.at(PRIMARY_BEAT_MS, tick);
  if (stopAt < RUN_MS) sim.at(stopAt, () => g.step({ kind: 'stopping' }, sim.now));
  sim.every(100, 0, Math.min(stopAt, RUN_MS), () => {
    // Lost: replaced within the failure timeout (a hang), the spawn grace (a newcomer that failed), plus a pause.
    const limit = OPTIONS.detector.deadAfterMs + OPTIONS.spawnGraceMs + 8_000 + 2 * PRIMARY_BEAT_MS + (stall?.ms ?? 0);
    for (const [slot, since] of lostSince) {
      if (sim.now - since > limit) {
        problems.push(`seed ${seed}: slot ${slot} without a guardian for ${Math.round(sim.now - since)} ms`);
        lostSince.delete(slot);
      }
    }
  });
  sim.runUntil(RUN_MS);
  const counted = g.view(sim.now).map((v) => v.restarts);
  if (counted.join() !== restarts.join()) problems.push(`seed ${seed}: restarts ${restarts} acted on, ${counted} shown`);
  return problems;
}

t.test(`guardians that crash, hang, flap and start slowly, under a primary that pauses (${SEEDS} seeds)`, async (t) => {
  const problems = Array.from({ length: SEEDS }, (_, i) => simulate(i + 1)).flat();
  t.same(problems.slice(0, 5), [], 'every lost slot refilled in time; no beating guardian ever doubled; none after a stop; every restart counted once');
});
