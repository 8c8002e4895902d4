/**
 * The chaos run's results: a summary as JSON and as a table for people, the
 * history, the timeline plot, and (when something failed) the machines' dumps,
 * all written to one results folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seconds, VIOLATION_LABELS, type Verdict, type Violations } from './checker';
import { FAULT_KINDS, type History } from './history';

export interface RunInfo {
  seed: number;
  faultWindowS: number;
  /** How to run it again. */
  reproduce: string;
  namespaces: boolean;
  clockFaults: boolean;
  /** Fault kinds left out, and why. */
  skipped: string[];
  /** Each machine's clock offset when the run ended. */
  clocksAtEnd: Record<string, string>;
  /** Failures outside the checker's scope: the cluster did not heal, a writer hung. */
  problems: string[];
  /** Events every machine held when the faults began (a generated history, then the workload's users and follows). */
  eventsAtStart: number;
}

export function summaryJson(info: RunInfo, verdict: Verdict): object {
  return { ...info, ok: verdict.ok && info.problems.length === 0, violations: verdict.violations, examples: verdict.examples, reordered: verdict.reordered, stats: verdict.stats };
}

export function summaryTable(info: RunInfo, verdict: Verdict): string {
  const st = verdict.stats;
  const sec = (ms: number | null): string => (ms === null ? 'did not converge' : seconds(ms));
  const rows: [string, string][] = [
    ...(Object.keys(VIOLATION_LABELS) as (keyof Violations)[]).map((k) => [VIOLATION_LABELS[k], String(verdict.violations[k])] as [string, string]),
    ['posts shown in an order that later changed', `${verdict.reordered.count} (allowed; explained below)`],
    ['time to converge (after the writers stopped)', sec(st.convergeMs)],
    ['longest client stall', st.longestStall ? `${sec(st.longestStall.to - st.longestStall.from)} (${st.longestStall.client})` : 'none over 1 s'],
    ['longest post stall (send to ack)', sec(st.longestPostStallMs)],
    ['longest delivery delay (ack to shown)', sec(st.longestDeliveryDelayMs)],
    ['posts acknowledged / sent', `${st.acknowledged} / ${st.sent}`],
    ['unacknowledged at the end (stored anyway)', `${st.unacknowledged} (${st.storedUnacknowledged})`],
    ['failed post attempts (retried, same id)', String(st.failedAttempts)],
    ['posts refused by a server', String(st.refused)],
    ['reader stream interruptions (resumed)', String(st.streamInterruptions)],
    ['faults injected', `${st.faultTotal}: ${FAULT_KINDS.map((k) => `${k} ${st.faults[k]}`).join(', ')}`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = [
    `ftchat chaos run: seed ${info.seed}, ${info.faultWindowS} s of faults, on ${info.eventsAtStart.toLocaleString('en-US')} events stored before the first`,
    `network namespaces: ${info.namespaces ? 'yes' : 'no (loopback)'}; clock skew: ${info.clockFaults ? 'yes' : 'no'}; clocks at the end: ${Object.entries(info.clocksAtEnd).map(([m, c]) => `${m} ${c === '0' ? 'true' : c}`).join(', ')}`,
    ...info.skipped.map((s) => `skipped: ${s}`),
    '',
    ...rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`),
    '',
    ...info.problems.map((p) => `PROBLEM: ${p}`),
    `VERDICT: ${verdict.ok && info.problems.length === 0 ? 'PASS (no violations)' : 'FAIL'}`,
  ];
  for (const k of Object.keys(VIOLATION_LABELS) as (keyof Violations)[]) {
    if (verdict.examples[k].length > 0) lines.push('', `${VIOLATION_LABELS[k]}:`, ...verdict.examples[k].map((e) => `  ${e}`));
  }
  if (verdict.reordered.count > 0) {
    lines.push('', 'posts shown in an order that later changed:', `  ${verdict.reordered.explanation}`, ...verdict.reordered.examples.map((e) => `  e.g. ${e}`));
  }
  lines.push('', `reproduce: ${info.reproduce}`);
  return `${lines.join('\n')}\n`;
}

export interface Results {
  info: RunInfo;
  history: History;
  verdict: Verdict;
  svg: string;
  /** Written only when the run failed, to look into. */
  dumps: Record<string, string>;
}

/** Writes the results folder; returns the table. */
export function writeResults(dir: string, r: Results): string {
  mkdirSync(dir, { recursive: true });
  const table = summaryTable(r.info, r.verdict);
  writeFileSync(join(dir, 'summary.txt'), table);
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summaryJson(r.info, r.verdict), null, 2)}\n`);
  writeFileSync(join(dir, 'history.json'), JSON.stringify(r.history));
  writeFileSync(join(dir, 'timeline.svg'), r.svg);
  if (!r.verdict.ok || r.info.problems.length > 0) {
    for (const [m, dump] of Object.entries(r.dumps)) writeFileSync(join(dir, `${m}.dump`), dump);
  }
  return table;
}
