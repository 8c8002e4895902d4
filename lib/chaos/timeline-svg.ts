/**
 * The chaos run at a glance, as an SVG drawn by hand (no dependency): one lane
 * per machine with the faults it suffered, one lane per client with its stalls,
 * and the acknowledged posts per second underneath. Pure: history + verdict in,
 * SVG text out. Hovering a mark shows what it was (SVG <title>).
 */
import { seconds as sec, type Verdict } from './checker';
import type { FaultKind, History } from './history';

const WIDTH = 1200;
const LEFT = 130;
const RIGHT = 20;
const LANE = 22;
const CHART = 110;

const COLORS: Record<FaultKind, string> = {
  kill: '#d62728',
  pause: '#9467bd',
  'machine-down': '#8c564b',
  'link-down': '#ff7f0e',
  clock: '#1f77b4',
};
const STALL_COLOR = '#e45756';
const ACK_COLOR = '#2ca02c';
const SHOWN_COLOR = '#17becf';

export function timelineSvg(history: History, verdict: Verdict, machines: string[]): string {
  const end = Math.max(history.phases.end, 1);
  const plotW = WIDTH - LEFT - RIGHT;
  const x = (t: number): number => LEFT + (Math.min(Math.max(t, 0), end) / end) * plotW;
  const out: string[] = [];
  let y = 40;

  const title = `ftchat chaos run: seed ${history.seed}, ${(history.faultWindowMs / 1000).toFixed(0)} s of faults, ${history.faults.length} faults: ${verdict.ok ? 'PASS' : 'FAIL'}`;
  out.push(text(LEFT, 22, title, { size: 15, weight: 'bold', fill: verdict.ok ? '#222' : '#b00' }));

  const clients = [...history.writers, ...history.readers.map((r) => r.reader)];
  const lanesTop = y;
  const lanesBottom = lanesTop + (machines.length + clients.length) * LANE + 18;
  const chartTop = lanesBottom + 16;
  const chartBottom = chartTop + CHART;

  // The healing and convergence phase, shaded.
  out.push(`<rect x="${x(history.phases.healed)}" y="${lanesTop - 6}" width="${x(end) - x(history.phases.healed)}" height="${chartBottom - lanesTop + 6}" fill="#f0f0f0"><title>faults healed at ${sec(history.phases.healed)}; writers stopped at ${sec(history.phases.writersStopped)}; converged ${history.phases.converged === null ? 'never' : `at ${sec(history.phases.converged)}`}</title></rect>`);
  if (x(end) - x(history.phases.healed) > 110) out.push(text(x(history.phases.healed) + 4, lanesTop + 4, 'healed, converging', { size: 10, fill: '#777' }));

  // Time axis: grid lines and labels.
  const step = niceStep(end / 1000);
  for (let s = 0; s * 1000 <= end; s += step) {
    out.push(`<line x1="${x(s * 1000)}" y1="${lanesTop - 6}" x2="${x(s * 1000)}" y2="${chartBottom}" stroke="#ddd" stroke-width="1"/>`);
    out.push(text(x(s * 1000), chartBottom + 14, `${s}s`, { size: 10, anchor: 'middle', fill: '#555' }));
  }

  // Fault lanes.
  out.push(text(8, y - 6, 'faults', { size: 11, weight: 'bold' }));
  for (const m of machines) {
    const mid = y + LANE / 2;
    out.push(text(8, mid + 4, m, { size: 12 }));
    out.push(`<line x1="${LEFT}" y1="${mid}" x2="${LEFT + plotW}" y2="${mid}" stroke="#ccc"/>`);
    for (const f of history.faults.filter((f) => f.machine === m)) {
      const what = `${f.kind} ${f.machine} ${f.target} at ${sec(f.at)}${f.healedAt !== null ? `, healed at ${sec(f.healedAt)}` : ''}`;
      const c = COLORS[f.kind];
      if (f.kind === 'kill') {
        out.push(`<g><title>${esc(what)}</title><line x1="${x(f.at)}" y1="${y + 3}" x2="${x(f.at)}" y2="${y + LANE - 3}" stroke="${c}" stroke-width="2"/></g>`);
      } else if (f.kind === 'clock') {
        const cx = x(f.at);
        out.push(`<g><title>${esc(what)}</title><path d="M${cx} ${mid - 7} L${cx + 6} ${mid} L${cx} ${mid + 7} L${cx - 6} ${mid} Z" fill="${c}"/>${text(cx + 8, mid + 4, f.target.replace('clock ', ''), { size: 10, fill: c })}</g>`);
      } else {
        const to = f.healedAt ?? end;
        out.push(`<rect x="${x(f.at)}" y="${y + 5}" width="${Math.max(2, x(to) - x(f.at))}" height="${LANE - 10}" fill="${c}" opacity="0.8"><title>${esc(what)}</title></rect>`);
      }
    }
    y += LANE;
  }

  // Client lanes: stalls.
  y += 18;
  out.push(text(8, y - 6, 'client stalls', { size: 11, weight: 'bold' }));
  for (const client of clients) {
    const mid = y + LANE / 2;
    out.push(text(8, mid + 4, `${client} ${client.startsWith('w') ? '(writer)' : '(reader)'}`, { size: 12 }));
    out.push(`<line x1="${LEFT}" y1="${mid}" x2="${LEFT + plotW}" y2="${mid}" stroke="#ccc"/>`);
    for (const s of verdict.stalls.filter((s) => s.client === client)) {
      const what = `${client} stalled ${((s.to - s.from) / 1000).toFixed(1)} s (${sec(s.from)} to ${sec(s.to)}): ${client.startsWith('w') ? 'waiting for an ack' : 'acknowledged posts not yet shown'}`;
      out.push(`<rect x="${x(s.from)}" y="${y + 6}" width="${Math.max(2, x(s.to) - x(s.from))}" height="${LANE - 12}" fill="${STALL_COLOR}"><title>${esc(what)}</title></rect>`);
    }
    y += LANE;
  }

  // Throughput: acknowledged posts per second, and posts shown per second per reader.
  const bins = Math.ceil(end / 1000);
  const acks = new Array<number>(bins).fill(0);
  const shown = new Array<number>(bins).fill(0);
  for (const op of history.posts) if (op.ackAt !== null && op.ackAt < end) acks[Math.floor(op.ackAt / 1000)]++;
  for (const r of history.readers) for (const s of r.shown) if (s.at < end && s.at >= 0) shown[Math.floor(s.at / 1000)] += 1 / history.readers.length;
  const top = Math.max(1, ...acks, ...shown);
  const yv = (v: number): number => chartBottom - (v / top) * (CHART - 10);
  const series = (values: number[]): string => values.map((v, i) => `${x(i * 1000 + 500).toFixed(1)},${yv(v).toFixed(1)}`).join(' ');
  out.push(text(8, chartTop + 12, 'throughput', { size: 11, weight: 'bold' }));
  out.push(text(8, chartTop + 28, `${top.toFixed(0)} /s`, { size: 10, fill: '#555' }));
  out.push(text(8, chartBottom, '0', { size: 10, fill: '#555' }));
  out.push(`<line x1="${LEFT}" y1="${chartBottom}" x2="${LEFT + plotW}" y2="${chartBottom}" stroke="#999"/>`);
  out.push(`<polyline points="${series(acks)}" fill="none" stroke="${ACK_COLOR}" stroke-width="1.5"><title>posts acknowledged per second (all writers)</title></polyline>`);
  out.push(`<polyline points="${series(shown)}" fill="none" stroke="${SHOWN_COLOR}" stroke-width="1" stroke-dasharray="3 2"><title>posts shown per second (per reader)</title></polyline>`);

  // Legend.
  let lx = LEFT;
  const ly = chartBottom + 34;
  const legend: [string, string][] = [
    ...(Object.keys(COLORS) as FaultKind[]).map((k) => [k, COLORS[k]] as [string, string]),
    ['client stall', STALL_COLOR],
    ['acks/s', ACK_COLOR],
    ['shown/s per reader', SHOWN_COLOR],
  ];
  for (const [label, color] of legend) {
    out.push(`<rect x="${lx}" y="${ly - 9}" width="12" height="10" fill="${color}"/>`);
    out.push(text(lx + 16, ly, label, { size: 11 }));
    lx += 24 + label.length * 6.5;
  }

  const height = ly + 16;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}

function text(x: number, y: number, s: string, o: { size: number; weight?: string; fill?: string; anchor?: string }): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="${o.size}"${o.weight ? ` font-weight="${o.weight}"` : ''} fill="${o.fill ?? '#222'}"${o.anchor ? ` text-anchor="${o.anchor}"` : ''}>${esc(s)}</text>`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A grid step (in s) that gives about 10 to 20 lines. */
function niceStep(spanS: number): number {
  for (const s of [1, 2, 5, 10, 15, 30, 60, 120, 300]) if (spanS / s <= 20) return s;
  return 600;
}
