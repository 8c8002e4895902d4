/**
 * `npm run bench -- --only SUITE --ab DIR [--rounds N]`: the same suite against another
 * built checkout, in alternating rounds on this host (this build first in odd rounds,
 * the other first in even ones), each run a fresh process. Every headline figure of
 * the suite is read from both builds' results with this build's reading of them, and
 * printed as this build over the other: the median of the rounds' ratios, and their
 * spread (lowest to highest), with the host's load around each run. An absolute figure
 * from a shared host means little; a ratio measured this way does.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../lib/common/paths';
import { median } from './stats';

/** One headline figure of a suite's results: its label and value (undefined: not measured in that run). */
export type Figure = [label: string, value: number | undefined];

export interface AbRun {
  build: 'this' | 'other';
  figures: Figure[];
  /** One-minute load average at the start and the end of the run. */
  load: [number, number];
}

export interface AbRow {
  label: string;
  thisMedian: number | undefined;
  otherMedian: number | undefined;
  /** This build over the other, per round: the median and the spread. */
  ratio: { median: number; min: number; max: number } | undefined;
}

/** The table of an A/B: runs come in rounds of one run per build, in any order within the round. */
export function abRows(runs: AbRun[]): AbRow[] {
  const rounds = runs.length / 2;
  // A figure read back from a results file is null where the suite had none (JSON has no undefined or NaN).
  const valuesOf = (build: AbRun['build'], label: string): (number | undefined)[] =>
    runs.filter((r) => r.build === build).map((r) => r.figures.find(([l]) => l === label)?.[1] ?? undefined);
  const labels = [...new Set(runs.flatMap((r) => r.figures.map(([l]) => l)))];
  return labels.map((label) => {
    const mine = valuesOf('this', label);
    const theirs = valuesOf('other', label);
    const ratios = Array.from({ length: rounds }, (_, i) => ratioOf(mine[i], theirs[i])).filter((x): x is number => x !== undefined);
    return {
      label,
      thisMedian: medianOf(mine),
      otherMedian: medianOf(theirs),
      ratio: ratios.length > 0 ? { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) } : undefined,
    };
  });
}

function ratioOf(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

function medianOf(xs: (number | undefined)[]): number | undefined {
  const known = xs.filter((x): x is number => x !== undefined);
  return known.length > 0 ? median(known) : undefined;
}

export function printAb(suite: string, otherDir: string, runs: AbRun[], rows: AbRow[]): void {
  const fmt = (x: number | undefined, digits = 0): string => (x === undefined ? '-' : x.toLocaleString('en-US', { maximumFractionDigits: digits }));
  console.log(`\nftchat ${suite} A/B: this build (${REPO_ROOT}) over ${otherDir}, ${runs.length / 2} alternating rounds`);
  console.log(`load average (1 min) at start-end of each run: ${runs.map((r) => `${r.build} ${r.load[0]}-${r.load[1]}`).join(', ')}\n`);
  console.log('| figure | this build (median) | other build (median) | this / other: median (spread) |');
  console.log('|---|---|---|---|');
  for (const r of rows) {
    const ratio = r.ratio ? `${fmt(r.ratio.median, 2)} (${fmt(r.ratio.min, 2)}-${fmt(r.ratio.max, 2)})` : '-';
    console.log(`| ${r.label} | ${fmt(r.thisMedian, 1)} | ${fmt(r.otherMedian, 1)} | ${ratio} |`);
  }
}

/** Runs `suite` once with the build in `dir` (its own dist/bench/run.js), passing `args` on; resolves with its results file. */
function runOnce(dir: string, suite: string, args: string[]): Promise<string> {
  const proc = spawn(process.execPath, [join(dir, 'dist', 'bench', 'run.js'), '--only', suite, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d));
  return new Promise((resolvePromise, reject) =>
    proc.on('exit', (code) => {
      const file = /^results: (.+)$/m.exec(out)?.[1];
      if (code === 0 && file) resolvePromise(file);
      else reject(new Error(`the ${suite} suite in ${dir} failed (exit ${code})`));
    }),
  );
}

export async function runAb(suite: string, otherDir: string, rounds: number, args: string[], figures: (result: never) => Figure[]): Promise<void> {
  const dirs = { this: REPO_ROOT, other: resolve(otherDir) };
  const runs: AbRun[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const build of (round % 2 ? ['this', 'other'] : ['other', 'this']) as AbRun['build'][]) {
      console.error(`bench: A/B round ${round}/${rounds}, ${build} build`);
      const load0 = loadNow();
      const file = await runOnce(dirs[build], suite, args);
      runs.push({ build, figures: figures(JSON.parse(readFileSync(file, 'utf8')) as never), load: [load0, loadNow()] });
    }
  }
  printAb(suite, dirs.other, runs, abRows(runs));
}

function loadNow(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}
