/**
 * The keyed mutex: work under one key runs one at a time in call order, work under
 * different keys overlaps, and taking several keys at once never deadlocks.
 */
import t from 'tap';
import { KeyedMutex } from '../../lib/common/keyed-mutex';

/** A promise resolved from outside, so the test decides when work finishes. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** Lets every already-settled promise callback run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

t.test('work under one key is serialised, in call order', async (t) => {
  const m = new KeyedMutex();
  const log: string[] = [];
  let inside = 0;
  let most = 0;
  const job = (name: string) => async (): Promise<string> => {
    inside++;
    most = Math.max(most, inside);
    log.push(`start ${name}`);
    await settle();
    await settle();
    log.push(`end ${name}`);
    inside--;
    return name;
  };
  const results = await Promise.all(['a', 'b', 'c', 'd'].map((n) => m.run('room', job(n))));
  t.same(results, ['a', 'b', 'c', 'd'], 'each caller gets its own result');
  t.equal(most, 1, 'never two at once');
  t.same(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c', 'start d', 'end d']);
});

t.test('a failing job releases the key and reports its own error', async (t) => {
  const m = new KeyedMutex();
  const failed = m.run('k', async () => {
    throw new Error('boom');
  });
  const next = m.run('k', async () => 'after');
  await t.rejects(failed, /boom/);
  t.equal(await next, 'after', 'the next job still runs');
});

t.test('different keys run concurrently', async (t) => {
  const m = new KeyedMutex();
  const g = gate();
  let bRan = false;
  const a = m.run('a', () => g.promise);
  const b = m.run('b', async () => {
    bRan = true;
  });
  await b;
  t.ok(bRan, 'key b finished while key a is still held');
  g.open();
  await a;
});

t.test('runAll holds every key for the duration', async (t) => {
  const m = new KeyedMutex();
  const g = gate();
  const order: string[] = [];
  const all = m.runAll(['x', 'y'], async () => {
    order.push('all start');
    await g.promise;
    order.push('all end');
  });
  await settle();
  const onY = m.run('y', async () => void order.push('y'));
  const onZ = m.run('z', async () => void order.push('z'));
  await onZ;
  t.same(order, ['all start', 'z'], 'y waits, z does not');
  g.open();
  await Promise.all([all, onY]);
  t.same(order, ['all start', 'z', 'all end', 'y']);
});

t.test('runAll with overlapping key sets in opposite orders does not deadlock', async (t) => {
  const m = new KeyedMutex();
  const sets = [
    ['a', 'b'],
    ['b', 'a'],
    ['b', 'c'],
    ['c', 'a'],
    ['a', 'b', 'c'],
    ['c', 'b', 'a', 'a'],
  ];
  const holding = new Set<string>();
  let overlaps = 0;
  const runs: Promise<number>[] = [];
  for (let round = 0; round < 20; round++) {
    sets.forEach((keys, i) => {
      runs.push(
        m.runAll(keys, async () => {
          if (keys.some((k) => holding.has(k))) overlaps++;
          keys.forEach((k) => holding.add(k));
          await settle();
          keys.forEach((k) => holding.delete(k));
          return i;
        }),
      );
      if (i % 2 === 0) runs.push(m.run(keys[0], async () => -1)); // single-key work mixed in
    });
  }
  const done = await Promise.all(runs);
  t.equal(done.length, runs.length, `all ${runs.length} jobs completed`);
  t.equal(overlaps, 0, 'no two jobs held a common key at once');
});
