/**
 * A primary keeps a warm standby for its machine (lib/control/standby-slot.ts): it
 * looks every lookEveryMs, spawns one only once its own worker serves and none
 * lives, and backs off a standby that keeps dying.
 */
import t from 'tap';
import { StandbySlot, type StandbyAction } from '../../lib/control/standby-slot';
import { POLICY } from '../helpers/takeover-world';

const { lookEveryMs, healthyAfterMs, maxRespawnMs } = POLICY.standby;
const kinds = (actions: StandbyAction[]): string[] => actions.map((a) => Object.keys(a)[0]);

t.test('it looks every lookEveryMs, and spawns a standby when none lives once a worker of ours serves', async (t) => {
  const s = new StandbySlot(POLICY.standby, 0);
  t.same(s.step({ kind: 'tick' }, lookEveryMs - 1), [], 'not before the first look is due');
  t.same(kinds(s.step({ kind: 'tick' }, lookEveryMs)), ['look']);
  t.same(s.step({ kind: 'tick' }, lookEveryMs + 1), [], 'one look per interval');
  t.same(s.step({ kind: 'looked', standbys: 0, serving: false }, lookEveryMs), [], 'not while the users wait for our workers');
  t.same(s.step({ kind: 'looked', standbys: 1, serving: true }, 2 * lookEveryMs), [], 'one lives (the guardians may have started it)');
  t.same(s.step({ kind: 'looked', standbys: 0, serving: true }, 3 * lookEveryMs), [{ spawn: { failures: 0 } }]);
});

t.test('a standby that keeps dying young is spawned again after a growing wait; one that lived resets it', async (t) => {
  const s = new StandbySlot(POLICY.standby, 0);
  const spawnTimes: number[] = [];
  for (let now = 0; now < 120_000; now += lookEveryMs) {
    if (s.step({ kind: 'looked', standbys: 0, serving: true }, now).length > 0) spawnTimes.push(now);
  }
  const waits = spawnTimes.slice(1).map((x, i) => x - spawnTimes[i]);
  t.ok(waits.length >= 3, `spawned ${spawnTimes.length} times in 2 minutes`);
  t.ok(waits.every((w, i) => i === 0 || w >= waits[i - 1]), `the waits grow: ${waits.join(', ')} ms`);
  t.ok(waits.at(-1)! <= maxRespawnMs + lookEveryMs, 'up to the cap');
  const healthy = new StandbySlot(POLICY.standby, 0);
  healthy.step({ kind: 'looked', standbys: 0, serving: true }, 0);
  healthy.step({ kind: 'looked', standbys: 1, serving: true }, healthyAfterMs);
  t.same(healthy.step({ kind: 'looked', standbys: 0, serving: true }, healthyAfterMs + lookEveryMs), [{ spawn: { failures: 0 } }], 'it lived past the healthy mark: spawned again at once');
});

t.test('a stopping primary spawns no standby any more', async (t) => {
  const s = new StandbySlot(POLICY.standby, 0);
  s.step({ kind: 'stopping' }, 1);
  t.same(s.step({ kind: 'tick' }, lookEveryMs), []);
  t.same(s.step({ kind: 'looked', standbys: 0, serving: true }, lookEveryMs), []);
});
