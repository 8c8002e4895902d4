/**
 * `npm run bench -- --only metrics`: what a Prometheus scrape of a machine costs,
 * at 1 and at 8 workers (the primary asks every child and sums their metrics, so
 * the cost grows with the children). For each size, in alternating windows of the
 * same length: scrapes back to back, then none; the CPU every process of the
 * machine used in the scrape windows beyond the idle ones, per scrape, and what that
 * is as a share of one core at Prometheus's usual 15 s interval (goal: under 1 %).
 */
import { loadConfig, metricsUrl } from '../lib/common/config';
import type { Figure } from './ab';
import { startTree } from './server';
import { cpuClock, loadAverageText, nowMs, startRun, summarize, type RunHeader, type Summary } from './stats';

export interface MetricsSizes {
  workers: number[];
  rounds: number;
  scrapes: number;
}
export const METRICS_SIZES: MetricsSizes = { workers: [1, 8], rounds: 3, scrapes: 100 };
export const METRICS_SMOKE: MetricsSizes = { workers: [1], rounds: 1, scrapes: 5 };
const INTERVAL_S = 15;

export interface ScrapeCost {
  workers: number;
  processes: number;
  bodyBytes: number;
  latencyMs: Summary;
  /** CPU ms per scrape across the machine's processes, each round (scrape window minus idle window). */
  cpuMsPerScrape: number[];
  /** Median round, as % of one core at one scrape per 15 s. */
  corePercentAt15s: number;
}

export interface MetricsResult extends RunHeader {
  rounds: number;
  scrapes: number;
  sizes: ScrapeCost[];
}

async function scrape(url: string): Promise<number> {
  const res = await fetch(url);
  return (await res.text()).length;
}

async function measure(workers: number, { rounds, scrapes }: MetricsSizes): Promise<ScrapeCost> {
  const cluster = await startTree(['m1'], workers, { guardians: 1 });
  try {
    const url = metricsUrl(loadConfig(cluster.configFile), 'm1');
    const pids = cluster.pids('m1');
    const bodyBytes = await scrape(url); // the first also warms up the path
    const latencies: number[] = [];
    const cpuMsPerScrape: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const busy = cpuClock({ machine: pids });
      for (let i = 0; i < scrapes; i++) {
        const t0 = nowMs();
        await scrape(url);
        latencies.push(nowMs() - t0);
      }
      const scraping = busy.stop();
      const idle = cpuClock({ machine: pids });
      await new Promise((resolve) => setTimeout(resolve, scraping.elapsedMs)); // an idle window as long as the busy one
      const resting = idle.stop();
      const extra = scraping.ms.machine - (resting.ms.machine * scraping.elapsedMs) / Math.max(1, resting.elapsedMs);
      cpuMsPerScrape.push(Math.round((extra / scrapes) * 100) / 100);
    }
    const median = [...cpuMsPerScrape].sort((a, b) => a - b)[Math.floor(rounds / 2)];
    return { workers, processes: pids.length, bodyBytes, latencyMs: summarize(latencies), cpuMsPerScrape, corePercentAt15s: Math.round((median / (INTERVAL_S * 1000)) * 100 * 1000) / 1000 };
  } finally {
    await cluster.teardown();
  }
}

export async function benchMetrics(opts = METRICS_SIZES): Promise<MetricsResult> {
  const header = startRun(opts.workers[0]);
  const sizes: ScrapeCost[] = [];
  for (const workers of opts.workers) {
    console.error(`bench: metrics scrape, ${workers} worker(s)`);
    sizes.push(await measure(workers, opts));
  }
  return { ...header(), rounds: opts.rounds, scrapes: opts.scrapes, sizes };
}

/** For an A/B (--ab): each size's median CPU per scrape. */
export function metricsFigures(r: MetricsResult): Figure[] {
  return r.sizes.map((s) => [`CPU ms per scrape, ${s.workers} worker(s)`, [...s.cpuMsPerScrape].sort((a, b) => a - b)[Math.floor(s.cpuMsPerScrape.length / 2)]]);
}

export function printMetricsReport(r: MetricsResult): void {
  console.log(`\nftchat metrics bench, node ${r.node}; ${loadAverageText(r)}; ${r.rounds} rounds of ${r.scrapes} scrapes each`);
  console.log('\n| workers | processes | body | scrape p50 / p99 ms | CPU ms per scrape (rounds) | share of a core at a 15 s interval | goal |');
  console.log('|---|---|---|---|---|---|---|');
  for (const s of r.sizes) {
    console.log(`| ${s.workers} | ${s.processes} | ${Math.round(s.bodyBytes / 1024)} KB | ${s.latencyMs.p50.toFixed(1)} / ${s.latencyMs.p99.toFixed(1)} | ${s.cpuMsPerScrape.join(', ')} | ${s.corePercentAt15s} % | < 1 %: ${s.corePercentAt15s < 1 ? 'met' : 'missed'} |`);
  }
}
