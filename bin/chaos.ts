/**
 * chaos: the fault-injection run (`npm run chaos -- --duration <s> [--seed <n>]`).
 * Parses arguments and hands over to lib/chaos. The `agent` subcommand is the
 * run's own client process, started by it beside each machine.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { errorMessage } from '../lib/common/log';
import { REPO_ROOT } from '../lib/common/paths';
import { runAgent } from '../lib/chaos/client-agent';
import { randomSeed } from '../lib/chaos/rng';
import { DEFAULT_POST_INTERVAL_MS, runChaos } from '../lib/chaos/run';

const USAGE = `usage: npm run chaos -- --duration <s> [--seed <n>] [options]
  --duration <s>         seconds of fault injection (then heal, converge, check)
  --seed <n>             seed of the fault schedule (default: random, printed)
  --results <dir>        results folder (default: chaos-results/<timestamp>)
  --post-interval <ms>   each writer's pause between posts (default ${DEFAULT_POST_INTERVAL_MS})
  --no-netns             stay on loopback (no network namespaces, no link faults)
  --power                power faults too: each machine's data dir on a disk that drops what was
                         not synced when its power is cut (test/tools/lazyfs: root, fuse3, python3-fusepy)
  --history <dir>        start every machine on a copy of a generated history
                         (node dist/bench/history-gen.js --events N --users U --follows F --out <dir>)
exit code: 0 no violations, 1 violations found, 2 bad arguments or the run could not be carried out`;

class UsageError extends Error {}

function count(value: string | undefined, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  return n;
}

async function agent(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      writer: { type: 'string' },
      reader: { type: 'string' },
      follow: { type: 'string' },
      servers: { type: 'string' },
      config: { type: 'string' },
      'post-interval': { type: 'string' },
    },
  });
  const { writer, reader, follow, servers, config } = values;
  if (!writer || !reader || !follow || !servers || !config) throw new UsageError('agent needs --writer, --reader, --follow, --servers and --config');
  await runAgent({
    writer,
    reader,
    follow: follow.split(','),
    servers: servers.split(','),
    configFile: config,
    postIntervalMs: count(values['post-interval'], 'post-interval', 0) ?? DEFAULT_POST_INTERVAL_MS,
  });
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'agent') {
    await agent(argv.slice(1));
    return -1; // the agent runs until told to exit
  }
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      seed: { type: 'string' },
      results: { type: 'string' },
      'post-interval': { type: 'string' },
      'no-netns': { type: 'boolean' },
      power: { type: 'boolean' },
      history: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const durationS = count(values.duration, 'duration', 5, 24 * 3600);
  if (durationS === undefined) throw new UsageError('--duration <seconds> is required');
  const seed = count(values.seed, 'seed', 0, 2 ** 32 - 1) ?? randomSeed();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const controller = new AbortController();
  const interrupt = (): void => {
    console.error('chaos: interrupted; cleaning up');
    controller.abort();
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const outcome = await runChaos({
    durationS,
    seed,
    resultsDir: values.results ?? join(REPO_ROOT, 'chaos-results', stamp),
    postIntervalMs: count(values['post-interval'], 'post-interval', 0) ?? DEFAULT_POST_INTERVAL_MS,
    namespaces: !values['no-netns'],
    history: values.history,
    power: values.power === true,
    log: (line) => console.log(line),
    signal: controller.signal,
  });
  console.log(`\n${outcome.table}\nresults: ${outcome.resultsDir}`);
  return outcome.ok ? 0 : 1;
}

main().then(
  (code) => {
    if (code >= 0) process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    console.error(`chaos: ${errorMessage(err).split('\n')[0]}${usage ? `\n${USAGE}` : ''}`);
    process.exit((err as Error).name === 'AbortError' ? 130 : 2);
  },
);
