/**
 * The nemesis's fault schedule is a pure function of the seed: a run can be
 * replayed, and every schedule keeps the rules (one machine-wide fault at a time,
 * only replica machines switched off or their power cut, nothing aimed at a machine
 * that is off).
 */
import t from 'tap';
import { planFaults, type PlanOptions, type PlannedFault } from '../../lib/chaos/nemesis';

const OPTS: PlanOptions = { machines: ['m1', 'm2', 'm3'], master: 'm1', windowMs: 600_000, linkFaults: true, clockFaults: true, powerFaults: true };
const SEEDS = Array.from({ length: 40 }, (_, i) => i + 1);
const WIDE = ['machine-down', 'link-down', 'clock', 'power'];
const SWITCH_OFF = ['machine-down', 'power'];

t.test('the same seed gives the same schedule; another seed another one', async (t) => {
  t.same(planFaults(7, OPTS), planFaults(7, OPTS));
  t.notSame(planFaults(7, OPTS), planFaults(8, OPTS));
});

t.test('a fault every 1.5 to 4.5 s, inside the window: at least 150 in 10 minutes', async (t) => {
  for (const seed of SEEDS) {
    const plan = planFaults(seed, OPTS);
    const gaps = plan.slice(1).map((f, i) => f.at - plan[i].at);
    if (gaps.some((g) => g < 1_500 || g > 4_500) || plan.some((f) => f.at >= OPTS.windowMs)) t.fail(`seed ${seed}: spacing or window broken`);
    if (plan.length < 150) t.fail(`seed ${seed}: only ${plan.length} faults`);
  }
  t.pass('every seed keeps the spacing');
});

t.test('every kind of fault is planned, with what it needs to be carried out', async (t) => {
  const all = SEEDS.flatMap((seed) => planFaults(seed, OPTS));
  t.same([...new Set(all.map((f) => f.kind))].sort(), ['clock', 'kill', 'link-down', 'machine-down', 'pause', 'power']);
  t.ok(all.filter((f) => f.kind === 'kill' || f.kind === 'pause').every((f) => f.role && f.pick !== undefined && f.pick >= 0 && f.pick < 1));
  t.ok(all.filter((f) => f.kind !== 'kill' && f.kind !== 'clock').every((f) => (f.durationMs ?? 0) >= 500));
});

t.test('machine-wide faults never overlap, and only replica machines are switched off or lose power', async (t) => {
  for (const seed of SEEDS) {
    const wide = planFaults(seed, OPTS).filter((f) => WIDE.includes(f.kind));
    const overlapping = wide.slice(1).filter((f, i) => f.at < wide[i].at + (wide[i].durationMs ?? 4_000));
    if (overlapping.length > 0) t.fail(`seed ${seed}: ${overlapping.length} overlapping machine-wide faults`);
    if (wide.some((f) => SWITCH_OFF.includes(f.kind) && f.machine === 'm1')) t.fail(`seed ${seed}: the master machine switched off`);
  }
  t.pass('checked every seed');
});

t.test('no process fault is aimed at a machine while it is switched off', async (t) => {
  for (const seed of SEEDS) {
    const plan = planFaults(seed, OPTS);
    const offs = plan.filter((f) => SWITCH_OFF.includes(f.kind));
    const aimedAtOff = plan.filter((f: PlannedFault) =>
      (f.kind === 'kill' || f.kind === 'pause') && offs.some((d) => d.machine === f.machine && f.at >= d.at && f.at < d.at + (d.durationMs as number)));
    if (aimedAtOff.length > 0) t.fail(`seed ${seed}: ${aimedAtOff.length} faults aimed at a machine that is off`);
  }
  t.pass('checked every seed');
});

t.test('each clock fault changes the machine\'s clock', async (t) => {
  for (const seed of SEEDS) {
    const clocks = new Map(OPTS.machines.map((m) => [m, '0']));
    for (const f of planFaults(seed, OPTS).filter((f) => f.kind === 'clock')) {
      if (f.clock === clocks.get(f.machine)) t.fail(`seed ${seed}: clock of ${f.machine} "changed" to what it was`);
      clocks.set(f.machine, f.clock as string);
    }
  }
  t.pass('checked every seed');
});

t.test('link, clock and power faults are left out where they cannot run', async (t) => {
  const kinds = new Set(SEEDS.flatMap((seed) => planFaults(seed, { ...OPTS, linkFaults: false, clockFaults: false, powerFaults: false }).map((f) => f.kind)));
  t.same([...kinds].sort(), ['kill', 'machine-down', 'pause']);
});
