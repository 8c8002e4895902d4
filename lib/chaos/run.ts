/**
 * A whole chaos run: start the cluster, start the workload, let the nemesis
 * loose for the fault window, heal everything, let the machines converge, check
 * what the clients saw against what the machines hold, and write the results.
 * Whatever happens, every process and namespace it made is gone when it returns.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../common/log';
import { check, referenceDump, storedPostKeys, type Verdict } from './checker';
import { createClusterLab, faketimeAvailable, type ClusterLab } from './cluster-lab';
import { lazyFsUnavailable } from './lazy-mount';
import { HistoryRecorder, type History, type Phases } from './history';
import { Nemesis, planFaults } from './nemesis';
import { netLabUnavailable } from './net-lab';
import { writeResults, type RunInfo } from './report';
import { timelineSvg } from './timeline-svg';
import { startWorkload, type Workload } from './workload';

export const DEFAULT_POST_INTERVAL_MS = 100;
const MACHINES = ['m1', 'm2', 'm3'];
const HEALTHY_TIMEOUT_MS = 120_000;
const SETUP_TIMEOUT_MS = 60_000;
/** A first start on a long history builds each machine's index and checkpoint (about 20 s per 1,000,000 events alone). */
const HISTORY_SETUP_TIMEOUT_MS = 900_000;
const STOP_WRITING_TIMEOUT_MS = 90_000;
const CONVERGE_TIMEOUT_MS = 120_000;
const SHOWN_TIMEOUT_MS = 30_000;

export interface ChaosOptions {
  durationS: number;
  seed: number;
  resultsDir: string;
  postIntervalMs: number;
  /** false: stay on loopback even where namespaces could be made. */
  namespaces: boolean;
  /** A generated history every machine starts on (bench/history-gen's output dir). */
  history?: string;
  /** Power faults: every machine's data dir on a power-loss disk (test/tools/lazyfs), cut now and then. */
  power?: boolean;
  log: (line: string) => void;
  signal?: AbortSignal;
}

export interface ChaosOutcome {
  ok: boolean;
  verdict: Verdict;
  /** What went wrong outside the checker's scope (the cluster did not heal, a writer hung). */
  problems: string[];
  table: string;
  resultsDir: string;
  /** For cleanup checks: the run's config file, the namespaces it made, its client agents. */
  configFile: string;
  namespaces: string[];
  agentPids: number[];
}

export function reproduceCommand(o: Pick<ChaosOptions, 'durationS' | 'seed' | 'postIntervalMs' | 'namespaces' | 'history' | 'power'>): string {
  const extra = [
    ...(o.postIntervalMs !== DEFAULT_POST_INTERVAL_MS ? [`--post-interval ${o.postIntervalMs}`] : []),
    ...(o.namespaces ? [] : ['--no-netns']),
    ...(o.history ? [`--history ${o.history}`] : []),
    ...(o.power ? ['--power'] : []),
  ];
  return ['npm run chaos --', `--duration ${o.durationS}`, `--seed ${o.seed}`, ...extra].join(' ');
}

/** Which fault kinds this host can inject, and what is left out and why. */
interface FaultSupport {
  namespaces: boolean;
  clockFaults: boolean;
  powerFaults: boolean;
  skipped: string[];
}

export async function runChaos(o: ChaosOptions): Promise<ChaosOutcome> {
  const support = faultSupport(o);
  for (const s of support.skipped) o.log(`chaos: skipping ${s}`);
  mkdirSync(join(o.resultsDir, 'logs'), { recursive: true });
  o.log(`chaos: seed ${o.seed}, ${o.durationS} s of faults; results in ${o.resultsDir}`);

  const lab = await createClusterLab({ machines: MACHINES, namespaces: support.namespaces, logDir: join(o.resultsDir, 'logs'), history: o.history, powerDisks: support.powerFaults });
  let workload: Workload | null = null;
  let nemesis: Nemesis | null = null;
  try {
    lab.start();
    await lab.waitHealthy(o.history ? HISTORY_SETUP_TIMEOUT_MS : SETUP_TIMEOUT_MS);
    const recorder = new HistoryRecorder();
    workload = startWorkload({ lab, recorder, postIntervalMs: o.postIntervalMs, log: o.log });
    const startDump = await setUpWorkload(lab, workload);
    o.log(`chaos: ${MACHINES.length} writers and ${workload.readers.length} readers running; faults begin`);

    const t0 = Date.now();
    workload.go();
    const plan = planFaults(o.seed, { machines: MACHINES, master: MACHINES[0], windowMs: o.durationS * 1000, linkFaults: support.namespaces, clockFaults: support.clockFaults, powerFaults: support.powerFaults });
    nemesis = new Nemesis(plan, lab, () => Date.now() - t0, o.log);
    nemesis.start();
    await sleep(o.durationS * 1000, undefined, { signal: o.signal });

    const end = await healAndConverge(lab, workload, nemesis, t0, o.log);
    const history: History = {
      seed: o.seed,
      faultWindowMs: o.durationS * 1000,
      writers: workload.writers,
      posts: recorder.postOps(t0),
      readers: recorder.readerLogs(t0).sort((a, b) => a.reader.localeCompare(b.reader)),
      faults: nemesis.faults,
      phases: end.phases,
      startedAt: t0,
    };
    return checkAndReport(o, support, { lab, workload, history, dumps: end.dumps, startDump, problems: end.problems });
  } finally {
    await nemesis?.healAll();
    await workload?.stop();
    await lab.teardown();
  }
}

function faultSupport(o: ChaosOptions): FaultSupport {
  const netReason = o.namespaces ? netLabUnavailable() : 'turned off (--no-netns)';
  const clockFaults = faketimeAvailable();
  const powerReason = o.power ? lazyFsUnavailable() : false;
  const skipped = [
    ...(powerReason ? [`power faults (${powerReason})`] : []),
    ...(netReason ? [`link-down faults (network namespaces: ${netReason}); running on loopback`] : []),
    ...(clockFaults ? [] : ['clock faults (faketime is not installed: Debian package faketime)']),
  ];
  return { namespaces: netReason === null, clockFaults, powerFaults: o.power === true && powerReason === false, skipped };
}

/**
 * Every client connected and every reader following, and every machine knowing
 * every room and every join before the first fault. Returns that common dump.
 */
async function setUpWorkload(lab: ClusterLab, workload: Workload): Promise<string> {
  await workload.ready(SETUP_TIMEOUT_MS);
  await workload.follow(SETUP_TIMEOUT_MS);
  const setup = await converge(lab, SETUP_TIMEOUT_MS);
  if (setup.at === null) throw new Error('the machines did not converge after setup');
  return setup.dumps[MACHINES[0]];
}

/**
 * After the fault window: heal everything, wait for the cluster to be whole, stop
 * the writers, wait for the machines to agree and the readers to be shown every
 * stored post. What did not happen in time is a problem, not an exception.
 */
async function healAndConverge(lab: ClusterLab, workload: Workload, nemesis: Nemesis, t0: number, log: (line: string) => void): Promise<{ phases: Phases; dumps: Record<string, string>; problems: string[] }> {
  const now = (): number => Date.now() - t0;
  const problems: string[] = [];
  await nemesis.healAll();
  const healed = now();
  log(`chaos: ${nemesis.faults.length} faults injected; healed everything at ${(healed / 1000).toFixed(1)} s`);
  await lab.waitHealthy(HEALTHY_TIMEOUT_MS).catch((err: unknown) => problems.push(errorMessage(err)));
  const healthy = now();
  await workload.stopWriting(STOP_WRITING_TIMEOUT_MS).catch((err: unknown) => problems.push(errorMessage(err)));
  const writersStopped = now();
  const { dumps, at } = await converge(lab, CONVERGE_TIMEOUT_MS);
  const converged = at === null ? null : at - t0;
  log(`chaos: ${converged === null ? 'the machines did NOT converge' : `converged ${((converged - writersStopped) / 1000).toFixed(1)} s after the writers stopped`}`);
  await workload.shownToAll(storedPostKeys(referenceDump(dumps)), SHOWN_TIMEOUT_MS);
  await workload.stop();
  return { phases: { healed, healthy, writersStopped, converged, end: now() }, dumps, problems };
}

/** The verdict on the run, written to the results folder. */
function checkAndReport(
  o: ChaosOptions,
  support: FaultSupport,
  run: { lab: ClusterLab; workload: Workload; history: History; dumps: Record<string, string>; startDump: string; problems: string[] },
): ChaosOutcome {
  const { lab, history, problems } = run;
  const verdict = check(history, run.dumps, run.startDump);
  const info: RunInfo = {
    seed: o.seed,
    faultWindowS: o.durationS,
    reproduce: reproduceCommand(o),
    namespaces: support.namespaces,
    clockFaults: support.clockFaults,
    skipped: support.skipped,
    clocksAtEnd: lab.clocks(),
    problems,
    eventsAtStart: lineCount(run.startDump),
  };
  const table = writeResults(o.resultsDir, { info, history, verdict, svg: timelineSvg(history, verdict, MACHINES), dumps: run.dumps });
  return { ok: verdict.ok && problems.length === 0, verdict, problems, table, resultsDir: o.resultsDir, configFile: lab.config.file, namespaces: lab.namespaces, agentPids: run.workload.pids };
}

function lineCount(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Polls every machine's dump until all are identical; `at` is when (epoch ms), or null at the deadline. */
async function converge(lab: ClusterLab, timeoutMs: number): Promise<{ dumps: Record<string, string>; at: number | null }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dumps = await lab.dumps();
    const texts = Object.values(dumps);
    if (texts.every((d) => d === texts[0])) return { dumps, at: Date.now() };
    if (Date.now() > deadline) return { dumps, at: null };
    await sleep(500);
  }
}
