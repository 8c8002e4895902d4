/**
 * `npm run bench [-- --only chat,recovery,replication]`: every benchmark against
 * the real server on this machine.
 * - chat: durable posts/s, delivery latency to 1/100/1,000 followers in chat mode,
 *   worker memory with 1,000 users connected, and raw grpc-js in the same run for
 *   the transport's limit (one machine, 2 workers);
 * - recovery: time from SIGKILL to a replacement serving, per role; idle cost; with `--master-kills N`,
 *   the longest gap a typing user sees across a master kill, at the empty history and `--events` sizes;
 * - replication: lag between machines, catch-up of 10,000 and 100,000 events; with `--catch-up N[,N...]`
 *   only the catch-up of an emptied m3 from generated histories of N events (`--cpu-prof DIR` profiles m3's processes);
 * - tls: CPU per durable post and connect latency with TLS against plaintext, the same tree twice in one run;
 * - identity: connect latency of the key handshake against one round trip, CPU per
 *   durable post with sessions and the session check's share of it;
 * - names: connect latency and CPU of a new name and a returning user, settled by a
 *   majority, against the build before (`--baseline DIR`), three machines each, alternating;
 * - metrics: the CPU a Prometheus scrape costs a machine, at 1 and 8 workers;
 * - durability: the power-loss fixes' cost to durable posts at two post sizes, against the build before them (`--baseline DIR`);
 * - security: TLS and sessions together against a build without both (`--baseline DIR`),
 *   CPU per durable post at one paced rate and connect latency, alternating rounds;
 * - origins: cursor and pull-vector size as rebuilds and a faulty peer's origins grow (pure, seconds);
 * - history: start, revival, memory, catch-up and latency on generated histories
 *   (`--events N[,N...]`, and `--users`, `--follows`, `--give-up` seconds, `--kills`, `--missed`, `--seed`).
 * `--ab DIR [--rounds N]` runs the suites against another built checkout instead, in
 * alternating rounds, and prints each headline figure as this build over the other (bench/ab.ts).
 * Each prints a markdown table and writes bench/results/<suite>-<timestamp>.json; `--smoke`
 * runs each at a tiny size, only to show it still runs (CI does, in test/integration/bench-smoke-*).
 * Everything started is cleaned up, also on Ctrl-C.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../lib/common/paths';
import { runAb, type Figure } from './ab';
import { benchChat, CHAT_SIZES, CHAT_SMOKE, chatFigures } from './chat';
import { runCleanups } from './cleanup';
import { benchHistory, HISTORY_ARGS, historyFigures, historyOptions, printHistoryReport } from './history';
import { benchIdentity, IDENTITY_SIZES, IDENTITY_SMOKE, identityFigures, printIdentityReport } from './identity';
import { benchOrigins, originsFigures, printOriginsReport } from './origins';
import { benchNames, printNamesReport } from './names';
import { benchRecovery, printRecoveryReport, recoveryFigures, RECOVERY_ARGS, recoveryOptions } from './recovery';
import { benchReplication, printReplicationReport, REPLICATION_ARGS, replicationFigures, replicationOptions } from './replication';
import { benchSecurity, printSecurityReport } from './security';
import { benchDurability, printDurabilityReport } from './durability';
import { printReport } from './report';
import { benchTls, printTlsReport, TLS_SIZES, TLS_SMOKE, tlsFigures } from './tls';
import { benchMetrics, METRICS_SIZES, METRICS_SMOKE, metricsFigures, printMetricsReport } from './metrics';

type Args = Parameters<typeof historyOptions>[0] & Parameters<typeof replicationOptions>[0] & { baseline?: string; roles?: string; 'master-kills'?: string; smoke?: boolean };
const SUITES = {
  chat: { run: (args: Args) => benchChat(args.smoke ? CHAT_SMOKE : CHAT_SIZES), print: printReport, figures: chatFigures },
  recovery: { run: (args: Args) => benchRecovery(recoveryOptions(args)), print: printRecoveryReport, figures: recoveryFigures },
  replication: { run: (args: Args) => benchReplication(replicationOptions(args)), print: printReplicationReport, figures: replicationFigures },
  tls: { run: (args: Args) => benchTls(args.smoke ? TLS_SMOKE : TLS_SIZES), print: printTlsReport, figures: tlsFigures },
  history: { run: (args: Args) => benchHistory(historyOptions(args)), print: printHistoryReport, figures: historyFigures },
  identity: { run: (args: Args) => benchIdentity(args.smoke ? IDENTITY_SMOKE : IDENTITY_SIZES), print: printIdentityReport, figures: identityFigures },
  security: { run: (args: Args) => benchSecurity(args.baseline), print: printSecurityReport, figures: null },
  durability: { run: (args: Args) => benchDurability(args.baseline), print: printDurabilityReport, figures: null },
  origins: { run: () => benchOrigins(), print: printOriginsReport, figures: originsFigures },
  names: { run: (args: Args) => benchNames(args.baseline), print: printNamesReport, figures: null },
  metrics: { run: (args: Args) => benchMetrics(args.smoke ? METRICS_SMOKE : METRICS_SIZES), print: printMetricsReport, figures: metricsFigures },
} as const;
type Suite = keyof typeof SUITES;

/** The runner's own flags; every other flag goes on to the suite, also in each run of an A/B. */
const OWN_ARGS = {
  only: { type: 'string', default: 'chat,recovery,replication' },
  ab: { type: 'string' },
  rounds: { type: 'string', default: '3' },
  results: { type: 'string', default: join(REPO_ROOT, 'bench', 'results') },
} as const;

function suiteArgs(tokens: ReturnType<typeof parseArgs>['tokens'] = []): string[] {
  return tokens.flatMap((t) => (t.kind !== 'option' || t.name in OWN_ARGS ? [] : t.value === undefined ? [`--${t.name}`] : [`--${t.name}`, t.value]));
}

/** `--smoke`: every suite at a size that only shows it still runs (CI runs it); flags given still win. */
const SMOKE_ARGS = { events: ['2000'], users: '50', follows: '5', kills: '1', missed: '200', idle: '2', 'master-kills': '1' };

function save(dir: string, suite: string, result: { startedAt: string }): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${suite}-${result.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

async function main(): Promise<void> {
  // history is long and sized by its flags: run it by name.
  const parsed = parseArgs({ options: { ...OWN_ARGS, baseline: { type: 'string' }, smoke: { type: 'boolean' }, ...HISTORY_ARGS, ...RECOVERY_ARGS, ...REPLICATION_ARGS }, tokens: true });
  const values = parsed.values.smoke ? { ...SMOKE_ARGS, ...parsed.values } : parsed.values;
  const suites = values.only.split(',').map((x) => x.trim());
  const unknown = suites.filter((x) => !(x in SUITES));
  if (unknown.length > 0) throw new Error(`unknown suite ${unknown.join(', ')} (have ${Object.keys(SUITES).join(', ')})`);
  for (const suite of suites as Suite[]) {
    console.error(`bench: --- ${suite} ---`);
    if (values.ab) {
      const figures = SUITES[suite].figures;
      if (!figures) throw new Error(`--ab: the ${suite} suite is an A/B of its own (--baseline DIR)`);
      await runAb(suite, values.ab, Number(values.rounds), suiteArgs(parsed.tokens), figures as (r: never) => Figure[]);
      continue;
    }
    if (!SUITES[suite].figures && values.smoke && !values.baseline) {
      console.log(`${suite}: not run (an A/B of its own: it needs --baseline DIR, the built checkout it compares against)`);
      continue;
    }
    const { run, print } = SUITES[suite] as { run: (args: Args) => Promise<{ startedAt: string }>; print: (r: never) => void };
    const result = await run(values);
    print(result as never);
    console.log(`\nresults: ${save(values.results, suite, result)}`);
  }
}

main().then(
  () => {
    runCleanups();
    process.exit(0); // client channels may still hold the loop open
  },
  (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1); // the 'exit' hook cleans up
  },
);
