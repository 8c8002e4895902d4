/**
 * The chaos run in CI: two short runs (the fixed seed 1, and a random seed that
 * is printed for reproduction) of real faults against three real machines, each
 * checked to the same standard as `npm run chaos`: nothing lost, duplicated or
 * divergent, every post shown once to every reader — and nothing the run started
 * (processes, network namespaces) left behind.
 */
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { VIOLATION_LABELS, type Violations } from '../../lib/chaos/checker';
import { serverPids } from '../../lib/common/processes';
import { randomSeed } from '../../lib/chaos/rng';
import { DEFAULT_POST_INTERVAL_MS, reproduceCommand, runChaos } from '../../lib/chaos/run';
import { isAlive } from '../../lib/common/proc-stat';
import { keptTmpdir, ownChildren } from '../helpers/reaper';

// The lab's servers, agents and namespaces die with this file even if tap kills it.
ownChildren();

const FAULT_WINDOW_S = 25;

// Two runs of about 45 s each, longer on a busy machine.
t.setTimeout(480_000);

async function chaosRun(t: Test, seed: number): Promise<void> {
  const options = { durationS: FAULT_WINDOW_S, seed, postIntervalMs: DEFAULT_POST_INTERVAL_MS, namespaces: true };
  t.comment(`reproduce: ${reproduceCommand(options)}`);
  const resultsDir = mkdtempSync(join(keptTmpdir(), 'ftchat-chaos-results-')) // outside the owner's dir: kept when the run fails;
  const log: string[] = [];
  const outcome = await runChaos({ ...options, resultsDir, log: (line) => log.push(line) });
  t.comment(outcome.table);

  for (const k of Object.keys(VIOLATION_LABELS) as (keyof Violations)[]) {
    t.equal(outcome.verdict.violations[k], 0, `${VIOLATION_LABELS[k]}: none`);
  }
  t.same(outcome.problems, [], 'the cluster healed and every writer finished');
  t.ok(outcome.verdict.stats.acknowledged > 0, 'the writers got posts acknowledged');
  t.ok(outcome.verdict.stats.faultTotal > 0, 'the nemesis injected faults');

  t.same(serverPids(outcome.configFile), [], 'no server process left');
  t.same(outcome.agentPids.filter(isAlive), [], 'no client agent left');
  if (outcome.namespaces.length > 0) {
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    t.same(outcome.namespaces.filter((ns) => left.includes(ns)), [], 'no network namespace left');
  }
  if (t.passing()) rmSync(resultsDir, { recursive: true, force: true });
  else t.comment(`results kept in ${resultsDir}\n${log.join('\n')}`);
}

t.test('a chaos run with the fixed seed 1 loses, duplicates or splits nothing and shows every post once', (t) => chaosRun(t, 1));

const seed = randomSeed();
t.test(`a chaos run with a random seed (${seed}) loses, duplicates or splits nothing and shows every post once`, (t) => chaosRun(t, seed));
