/**
 * An A/B compares builds round by round: each figure's ratio is this build's value
 * over the other's in the same round, summarised as the median with its spread.
 */
import t from 'tap';
import { abRows, type AbRun } from '../../bench/ab';

const run = (build: AbRun['build'], postsPerSec: number | undefined, stallMs = 100): AbRun => ({
  build,
  figures: [
    ['posts/s', postsPerSec],
    ['stall ms', stallMs],
  ],
  load: [1, 1],
});

t.test('each round is a pair, whichever build ran first in it', async (t) => {
  // Round 1 this first, round 2 the other first, round 3 this first.
  const rows = abRows([run('this', 110), run('other', 100), run('other', 200), run('this', 180), run('this', 120), run('other', 100)]);
  const posts = rows.find((r) => r.label === 'posts/s')!;
  t.equal(posts.thisMedian, 120);
  t.equal(posts.otherMedian, 100);
  t.same(posts.ratio, { median: 1.1, min: 0.9, max: 1.2 }, 'ratios per round: 1.1, 0.9, 1.2');
});

t.test('a figure one build did not measure in a round has no ratio for that round', async (t) => {
  const rows = abRows([run('this', undefined), run('other', 100), run('this', 150), run('other', 100)]);
  const posts = rows.find((r) => r.label === 'posts/s')!;
  t.same(posts.ratio, { median: 1.5, min: 1.5, max: 1.5 });
  t.equal(rows.find((r) => r.label === 'stall ms')!.ratio!.median, 1);
});

t.test('a figure neither build measured is listed without a ratio', async (t) => {
  const rows = abRows([run('this', undefined), run('other', undefined)]);
  t.equal(rows.find((r) => r.label === 'posts/s')!.ratio, undefined);
});

t.test('a figure read back from a results file as null counts as not measured', async (t) => {
  const fromJson = (build: AbRun['build'], v: number | null): AbRun => JSON.parse(JSON.stringify({ ...run(build, 100), figures: [['gap ms', v]] })) as AbRun;
  const rows = abRows([fromJson('this', null), fromJson('other', 100), fromJson('this', 80), fromJson('other', 100)]);
  const gap = rows.find((r) => r.label === 'gap ms')!;
  t.equal(gap.thisMedian, 80);
  t.same(gap.ratio, { median: 0.8, min: 0.8, max: 0.8 });
});
