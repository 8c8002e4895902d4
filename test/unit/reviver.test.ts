/**
 * A guardian's revival decisions: a dead primary is revived whatever arrives from
 * the network. Forged ring messages (a holder of the cluster secret can send any)
 * can only delay a revival by a bounded time, never stop it, and never push terms
 * far; without them one guardian revives the primary once, soon after it died.
 * Deterministic: the randomized runs replay from their seed.
 */
import t from 'tap';
import type { RingMsg } from '../../lib/control/election';
import { Reviver, type GuardianAction } from '../../lib/control/reviver';
import { SimNetwork } from '../helpers/sim-network';

// The config's defaults (lib/common/config.ts) and the guardian's grace.
const HEARTBEAT_MS = 200;
const DETECTOR = { heartbeatMs: HEARTBEAT_MS, suspectAfterMs: 600, deadAfterMs: 1_000, startupGraceMs: 1_500 };
const ELECTION_TIMEOUT_MS = 1_000;
const REVIVE_GRACE_MS = 5_000;
const INITIAL_TERM = 7;
const KILL_AT = 3_000;
/** A revived primary beats after this long at most (it loads first). */
const MAX_START_MS = 4_000;

function reviver(self: string, members: string[], now = 0): Reviver {
  return new Reviver(
    { self, members, detector: DETECTOR, electionTimeoutMs: ELECTION_TIMEOUT_MS, reviveGraceMs: REVIVE_GRACE_MS, initialTerm: INITIAL_TERM, exitGraceMs: 500, beatFilesMs: 1_000, decidedLogMs: 1_000 },
    now,
  );
}

const revives = (actions: GuardianAction[]) => actions.flatMap((a) => ('revive' in a ? [a.revive] : []));

t.test('a lone guardian revives a primary it saw die, with a term above the record', async (t) => {
  const r = reviver('m2.g0', ['m2.g0']);
  r.step({ kind: 'answer', pid: 1, term: INITIAL_TERM }, 100);
  t.same(revives(r.step({ kind: 'tick' }, 200)), [], 'alive: nothing to do');
  const actions = r.step({ kind: 'broken', recordPid: null }, 300);
  t.same(revives(actions), [{ term: 8, why: 'elected', silentMs: 200 }]);
  t.same(revives(r.step({ kind: 'tick' }, 400)), [], 'once: the new primary gets its grace');
});

t.test('a primary killed again soon after its revival is revived at once once it has beaten: the grace waits only for a start', async (t) => {
  const r = reviver('m2.g0', ['m2.g0']);
  r.step({ kind: 'answer', pid: 1, term: INITIAL_TERM }, 100);
  t.equal(revives(r.step({ kind: 'broken', recordPid: null }, 300)).length, 1, 'the first death');
  t.same(revives(r.step({ kind: 'tick' }, 500)), [], 'not again while the new primary starts');
  r.step({ kind: 'answer', pid: 1, term: INITIAL_TERM + 1 }, 700);
  const again = revives(r.step({ kind: 'broken', recordPid: null }, 1_500));
  t.same(again.map((x) => [x.term, x.why]), [[INITIAL_TERM + 2, 'elected']], `revived at once, 1.2 s after the last revival (grace ${REVIVE_GRACE_MS} ms)`);
});

t.test('leading while the primary looks alive starts nothing', async (t) => {
  const r = reviver('b', ['a', 'b']);
  r.step({ kind: 'answer', pid: 1, term: INITIAL_TERM }, 0);
  // A forged (or stale) Election that b passes on and gets back makes b lead term 9.
  const forward = r.step({ kind: 'ring', msg: { kind: 'election', term: 9, candidateId: 'a', origin: 'a' } }, 10);
  t.same(forward, [{ send: { to: 'a', msg: { kind: 'election', term: 9, candidateId: 'b', origin: 'a' } } }]);
  const led = r.step({ kind: 'ring', msg: { kind: 'election', term: 9, candidateId: 'b', origin: 'a' } }, 20);
  t.same(revives(led), [], 'no primary is started');
  t.ok(led.some((a) => 'decided' in a), 'the term is decided all the same');
});

t.test('a flood of forged leader announcements delays a revival by a bounded time only', async (t) => {
  const members = ['a', 'b'];
  const r = reviver('a', members);
  r.step({ kind: 'answer', pid: 1, term: INITIAL_TERM }, 0);
  let revivedAt: number | undefined;
  let sent = 0;
  for (let now = 100; now <= 20_000 && revivedAt === undefined; now += 50) {
    // Every 50 ms: "b leads a newer term", which would keep a trusting guardian waiting forever.
    const forged: RingMsg = { kind: 'elected', term: r.election.term + 1, leaderId: 'b' };
    const actions = [...(now === 300 ? r.step({ kind: 'broken', recordPid: null }, now) : []), ...r.step({ kind: 'ring', msg: forged }, now), ...r.step({ kind: 'tick' }, now)];
    sent++;
    if (revives(actions).length > 0) revivedAt = now;
  }
  t.ok(revivedAt !== undefined, `revived at ${revivedAt} ms despite ${sent} forged announcements`);
  t.ok(revivedAt! <= 300 + REVIVE_GRACE_MS + ELECTION_TIMEOUT_MS + HEARTBEAT_MS, 'within its own grace, counted from its own observation');
});

t.test('forged announcements note a decision at most once a second; the guardian beats its own file once a second', async (t) => {
  const r = reviver('a', ['a', 'b']);
  r.step({ kind: 'answer', pid: 1, term: INITIAL_TERM }, 0);
  const notes: number[] = [];
  const beats: number[] = [];
  for (let now = 0; now < 3_000; now += 50) {
    const forged: RingMsg = { kind: 'elected', term: r.election.term + 1, leaderId: 'b' };
    for (const a of [...r.step({ kind: 'ring', msg: forged }, now), ...r.step({ kind: 'tick' }, now)]) {
      if ('decided' in a) notes.push(now);
      if ('beatFiles' in a) beats.push(now);
    }
  }
  t.same(notes, [0, 1_000, 2_000], '60 announcements, 3 notes');
  t.same(beats, [0, 1_000, 2_000], 'the first tick beats at once, then every beatFilesMs');
});

// ---------------------------------------------------------------------------
// Randomized runs: guardians on a lossy network, a primary that is killed, a
// revived primary that takes a random while to start, and (in half the runs) a
// forger who sees every guardian's state and sends it the messages most likely to
// keep it waiting: leader announcements of the next terms, elections it cannot
// win, terms far ahead.

const SEEDS = 400;

interface Run {
  seed: number;
  forged: number;
  /** ms from the kill until a primary beats again (undefined: never). */
  backAfterMs: number | undefined;
  revives: number;
  fallbacks: number;
  maxTerm: number;
}

function simulate(seed: number, forger: boolean, faults: boolean): Run {
  const run: Run = { seed, forged: 0, backAfterMs: undefined, revives: 0, fallbacks: 0, maxTerm: 0 };
  const nodes = new Map<string, Reviver>();
  const net: SimNetwork<RingMsg> = new SimNetwork<RingMsg>(
    { seed, minDelayMs: 1, maxDelayMs: 20, failAfterMs: 2 * HEARTBEAT_MS },
    {
      deliver: (to, msg) => apply(to, nodes.get(to)!.step({ kind: 'ring', msg: msg }, net.now)),
      failed: (from, to, msg) => apply(from, nodes.get(from)!.step({ kind: 'deliveryFailed', to, msg }, net.now)),
    },
  );
  const random = net.random;
  const n = 1 + Math.floor(random() * 3);
  const ids = Array.from({ length: n }, (_, i) => `m2.g${i}`);
  for (const id of ids) nodes.set(id, reviver(id, ids));
  if (faults) net.faults = { lossRate: random() * 0.3, duplicateRate: random() * 0.3, falseFailureRate: random() * 0.3 };
  const end = KILL_AT + 30_000;

  let primaryUp = true;
  let starting = false;
  const live = (): string[] => ids.filter((id) => net.isAlive(id));
  function apply(id: string, actions: GuardianAction[]): void {
    if (!net.isAlive(id)) return;
    for (const a of actions) {
      if ('send' in a) net.send(id, a.send.to, a.send.msg);
      else if ('revive' in a) {
        run.revives++;
        if (a.revive.why === 'unrevived') run.fallbacks++;
        run.maxTerm = Math.max(run.maxTerm, a.revive.term);
        // Idempotent: a start while one runs or starts stands by.
        if (primaryUp || starting) continue;
        starting = true;
        net.at(net.now + 100 + Math.floor(random() * (MAX_START_MS - 100)), () => {
          starting = false;
          primaryUp = true;
          run.backAfterMs ??= net.now - KILL_AT;
        });
      }
    }
  }

  // The primary beats every heartbeat while it runs; each guardian ticks on its own phase.
  net.every(HEARTBEAT_MS, 0, end, () => {
    if (primaryUp) for (const id of live()) nodes.get(id)!.step({ kind: 'answer', pid: 1, term: INITIAL_TERM + 1 }, net.now);
  });
  for (const id of ids) net.every(HEARTBEAT_MS, Math.floor(random() * HEARTBEAT_MS), end, () => apply(id, nodes.get(id)!.step({ kind: 'tick' }, net.now)));
  net.at(KILL_AT, () => {
    primaryUp = false;
    // Most guardians see its Watch stream break at once; the others go by the beats.
    for (const id of live()) if (random() < 0.7) net.at(net.now + Math.floor(random() * 500), () => apply(id, nodes.get(id)!.step({ kind: 'broken', recordPid: null }, net.now)));
  });
  // Some guardians die too, never all of them.
  for (const victim of ids.slice(0, Math.floor(random() * n))) net.at(KILL_AT + Math.floor(random() * 3_000), () => net.kill(victim));

  if (forger) {
    const forge = (): void => {
      const to = ids[Math.floor(random() * n)];
      const target = nodes.get(to)!;
      const other = ids[Math.floor(random() * n)];
      const kind = random();
      const msg: RingMsg =
        kind < 0.5
          ? { kind: 'elected', term: target.election.term + 1 + Math.floor(random() * 3), leaderId: other }
          : kind < 0.8
            ? { kind: 'election', term: target.election.term + 1, candidateId: other, origin: ids[target.election.term % n] }
            : { kind: 'elected', term: Number.MAX_SAFE_INTEGER - Math.floor(random() * 10), leaderId: other };
      run.forged++;
      if (net.isAlive(to)) apply(to, target.step({ kind: 'ring', msg: msg }, net.now));
      net.at(net.now + 5 + Math.floor(random() * 60), forge);
    };
    net.at(0, forge);
  }
  net.runUntil(end);
  return run;
}

// Worst case: death seen a beat late after the detector's limit, the last guardian's
// staggered fallback, a start that takes its longest, and one more grace if a start
// was under way when a fallback was due.
const BOUND_MS = DETECTOR.deadAfterMs + HEARTBEAT_MS + 2 * (REVIVE_GRACE_MS + 3 * ELECTION_TIMEOUT_MS) + MAX_START_MS;

t.test(`forged ring messages never keep a killed primary down (${SEEDS} seeds)`, async (t) => {
  const runs = Array.from({ length: SEEDS }, (_, i) => simulate(i + 1, true, i % 2 === 0));
  const late = runs.filter((r) => r.backAfterMs === undefined || r.backAfterMs > BOUND_MS);
  t.same(late.map((r) => `seed ${r.seed}: back after ${r.backAfterMs} ms`).slice(0, 5), [], `every primary back within ${BOUND_MS} ms`);
  t.ok(runs.every((r) => r.maxTerm < INITIAL_TERM + 10_000), 'terms stay small: no forged term was taken far ahead');
  const blocked = runs.filter((r) => r.fallbacks > 0).length;
  t.ok(blocked > SEEDS / 4, `the forger really blocked the ring in ${blocked} runs, and the guardians' own observation revived the primary`);
  t.ok(runs.every((r) => r.forged > 100), 'every run forged hundreds of messages');
  const back = runs.map((r) => r.backAfterMs!).sort((a, b) => a - b);
  t.comment(`back after a kill: median ${back[back.length >> 1]} ms, max ${back.at(-1)} ms`);
});

t.test(`without forgery a killed primary is revived once, by the ring (${SEEDS} seeds)`, async (t) => {
  const runs = Array.from({ length: SEEDS }, (_, i) => simulate(i + 1, false, false));
  const wrong = runs.filter((r) => r.backAfterMs === undefined || r.backAfterMs > DETECTOR.deadAfterMs + HEARTBEAT_MS + MAX_START_MS + 100 || r.fallbacks > 0);
  t.same(wrong.map((r) => `seed ${r.seed}: back after ${r.backAfterMs} ms, ${r.fallbacks} fallbacks`).slice(0, 5), []);
  const duplicates = runs.filter((r) => r.revives > 1);
  t.same(duplicates.map((r) => `seed ${r.seed}: ${r.revives} revivals`).slice(0, 5), [], 'one revival each');
});

t.test(`on a lossy network without forgery every killed primary comes back (${SEEDS} seeds)`, async (t) => {
  const runs = Array.from({ length: SEEDS }, (_, i) => simulate(i + 1, false, true));
  const late = runs.filter((r) => r.backAfterMs === undefined || r.backAfterMs > BOUND_MS);
  t.same(late.map((r) => `seed ${r.seed}: back after ${r.backAfterMs} ms`).slice(0, 5), []);
});
