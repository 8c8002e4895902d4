/** The chat bench's report: a markdown table against the issue's goals. */
import { chatGoals, type BenchResults } from './chat';
import type { EchoResult } from './grpc-echo';
import { cpuPercent, loadAverageText, type CpuUse } from './stats';

const GOAL_POSTS_PER_SEC = 5_000;
const GOAL_DELIVERY_P99_MS = 20;
const GOAL_WORKER_MB = 100;
/** CPU time the machine has per second: 2 cores. */
const CORES_US_PER_SEC = 2_000_000;

const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const ms = (x: number): string => `${x.toFixed(2)} ms`;
const mbs = (ws: { peakMb: number }[]): string => ws.map((w) => `${w.peakMb} MB`).join(', ');
const mark = (ok: boolean): string => (ok ? 'met' : 'MISSED');

export function printReport(r: BenchResults): void {
  const rows: [string, string, string][] = [];
  for (const p of r.posts) {
    rows.push([
      `durable posts/s: ${p.scenario}`,
      `${int(p.postsPerSec)} /s (ack p50 ${ms(p.ackMs.p50)}, p99 ${ms(p.ackMs.p99)})`,
      `>= ${int(GOAL_POSTS_PER_SEC)} /s: ${mark(p.postsPerSec >= GOAL_POSTS_PER_SEC)}`,
    ]);
  }
  for (const p of r.posts) {
    const total = Object.values(p.cpuUsPerPost).reduce((a, b) => a + b, 0);
    rows.push([
      `CPU per durable post, all bench processes: ${p.scenario}`,
      `${int(total)} µs (${Object.entries(p.cpuUsPerPost).map(([k, v]) => `${k} ${int(v)}`).join(', ')}): at most ${int(CORES_US_PER_SEC / total)} posts/s with both cores free`,
      `<= ${int(CORES_US_PER_SEC / GOAL_POSTS_PER_SEC)} µs for ${int(GOAL_POSTS_PER_SEC)} /s: ${mark(total * GOAL_POSTS_PER_SEC <= CORES_US_PER_SEC)}`,
    ]);
  }
  for (const d of r.delivery) {
    const lost = d.delivered < d.expected ? `, only ${int(d.delivered)} of ${int(d.expected)} delivered` : '';
    rows.push([
      `delivery latency, ${int(d.followers)} follower${d.followers === 1 ? '' : 's'} (${d.postsPerSec} posts/s)`,
      `p50 ${ms(d.latencyMs.p50)}, p99 ${ms(d.latencyMs.p99)}${lost}`,
      `p99 < ${GOAL_DELIVERY_P99_MS} ms: ${mark(d.latencyMs.p99 < GOAL_DELIVERY_P99_MS && !lost)}`,
    ]);
  }
  const peak = Math.max(...r.memory.afterConnect.map((w) => w.peakMb));
  rows.push([
    `peak RSS per worker, ${int(r.memory.connectedUsers)} users in chat mode`,
    `${mbs(r.memory.afterConnect)} (idle before: ${mbs(r.memory.idle)}; after the delivery runs: ${mbs(r.memory.afterDelivery)})`,
    `< ${GOAL_WORKER_MB} MB: ${mark(peak < GOAL_WORKER_MB)}`,
  ]);
  const echoes = (f: (e: EchoResult) => string): string => r.echo.map(f).join('; ');
  rows.push([`raw grpc-js unary echo, ${r.echo[0].inFlight} in flight (at start; at end)`, echoes((e) => `${int(e.callsPerSec)} calls/s`), 'transport limit']);
  rows.push(['raw grpc-js unary echo, one at a time (at start; at end)', echoes((e) => `p50 ${ms(e.serialMs.p50)}, p99 ${ms(e.serialMs.p99)}`), 'transport limit']);
  const best = Math.max(...r.posts.map((p) => p.postsPerSec));
  const transport = Math.max(...r.echo.map((e) => e.callsPerSec));
  rows.push(['best durable posts/s as a share of the best raw grpc-js calls/s', `${Math.round((best / transport) * 100)} %`, '']);

  const uses = [...r.posts.map((p) => p.cpu), ...r.delivery.map((d) => d.cpu), ...r.echo.map((e) => e.cpu)];
  const otherLoad = uses.reduce((a, u) => a + u.ms.otherLoad, 0) / uses.reduce((a, u) => a + u.elapsedMs, 0);
  console.log(`\nftchat bench, ${r.workers} workers, node ${r.node}; ${loadAverageText(r)};`);
  console.log(`processes not started by the bench used ${Math.round(otherLoad * 100)} % of one core on average while it measured (the machine has 2 cores)\n`);
  console.log('| metric | result | goal |');
  console.log('|---|---|---|');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);

  console.log('\nThe speed goals, each from figures of this run (follower helpers at nice 19):\n');
  console.log('| goal | this run | bound |');
  console.log('|---|---|---|');
  for (const g of chatGoals(r)) {
    const percent = (x: number): string => `${Math.round(x * 100)} %`;
    const shown = g.value === undefined ? 'not measured' : g.unit === 'ms' ? ms(g.value) : percent(g.value);
    const bound = g.unit === 'ms' ? `${g.bound} ms` : percent(g.bound);
    const met = g.value !== undefined && (g.atMost ? g.value <= g.bound : g.value >= g.bound);
    console.log(`| ${g.label} | ${shown} | ${g.atMost ? '<=' : '>='} ${bound}: ${mark(met)} |`);
  }

  console.log('\nWhere the CPU went (the machine has 2 cores; otherLoad is everything not started by this bench):');
  const pct = (c: CpuUse): string => Object.entries(cpuPercent(c)).map(([k, v]) => `${k} ${v}%`).join(', ');
  const us = (c: Record<string, number>): string => Object.entries(c).map(([k, v]) => `${k} ${int(v)}`).join(', ');
  for (const p of r.posts) console.log(`- posts, ${p.scenario}: ${pct(p.cpu)}; CPU µs per post: ${us(p.cpuUsPerPost)}`);
  for (const d of r.delivery) console.log(`- delivery to ${int(d.followers)}: ${pct(d.cpu)}; CPU µs per delivered post: ${us(d.cpuUsPerDelivery)}`);
  for (const e of r.echo) console.log(`- raw grpc-js echo: ${pct(e.cpu)}; CPU µs per call: ${us(e.cpuUsPerCall)}`);
}

/** Writes bench/results/<timestamp>.json (git-ignored); returns its path. */
