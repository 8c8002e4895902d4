/**
 * The chaos run at a glance, as an SVG drawn by hand (no dependency): one lane
 * per machine with the faults it suffered, one lane per client with its stalls,
 * and the acknowledged posts per second underneath. Pure: history + verdict in,
 * SVG text out. Hovering a mark shows what it was (SVG <title>).
 */
import { seconds as sec, type Stall, type Verdict } from './checker';
import type { FaultEvent, FaultKind, History } from './history';

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
  power: '#111111',
};
const STALL_COLOR = '#e45756';
const ACK_COLOR = '#2ca02c';
const SHOWN_COLOR = '#17becf';
const PLOT_W = WIDTH - LEFT - RIGHT;

/** Where things go: the time scale, and the tops of the lanes and of the chart. */
interface Layout {
  end: number;
  x: (t: number) => number;
  lanesTop: number;
  chartTop: number;
  chartBottom: number;
}

export function timelineSvg(history: History, verdict: Verdict, machines: string[]): string {
  const clients = [...history.writers, ...history.readers.map((r) => r.reader)];
  const end = Math.max(history.phases.end, 1);
  const lanesTop = 40;
  const clientsTop = lanesTop + machines.length * LANE + 18;
  const chartTop = clientsTop + clients.length * LANE + 16;
  const at: Layout = { end, x: (t) => LEFT + (Math.min(Math.max(t, 0), end) / end) * PLOT_W, lanesTop, chartTop, chartBottom: chartTop + CHART };
  const title = `ftchat chaos run: seed ${history.seed}, ${(history.faultWindowMs / 1000).toFixed(0)} s of faults, ${history.faults.length} faults: ${verdict.ok ? 'PASS' : 'FAIL'}`;
  const legendY = at.chartBottom + 34;
  const height = legendY + 16;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    text(LEFT, 22, title, { size: 15, weight: 'bold', fill: verdict.ok ? '#222' : '#b00' }),
    ...healingPhase(history, at),
    ...timeAxis(at),
    ...faultLanes(history.faults, machines, lanesTop, at),
    ...clientLanes(clients, verdict.stalls, clientsTop, at),
    ...throughput(history, at),
    ...legend(legendY),
    '</svg>',
    '',
  ].join('\n');
}

/** The healing and convergence phase, shaded. */
function healingPhase(history: History, { x, end, lanesTop, chartBottom }: Layout): string[] {
  const { healed, writersStopped, converged } = history.phases;
  const out = [`<rect x="${x(healed)}" y="${lanesTop - 6}" width="${x(end) - x(healed)}" height="${chartBottom - lanesTop + 6}" fill="#f0f0f0"><title>faults healed at ${sec(healed)}; writers stopped at ${sec(writersStopped)}; converged ${converged === null ? 'never' : `at ${sec(converged)}`}</title></rect>`];
  if (x(end) - x(healed) > 110) out.push(text(x(healed) + 4, lanesTop + 4, 'healed, converging', { size: 10, fill: '#777' }));
  return out;
}

/** Time axis: grid lines and labels. */
function timeAxis({ x, end, lanesTop, chartBottom }: Layout): string[] {
  const out: string[] = [];
  const step = niceStep(end / 1000);
  for (let s = 0; s * 1000 <= end; s += step) {
    out.push(`<line x1="${x(s * 1000)}" y1="${lanesTop - 6}" x2="${x(s * 1000)}" y2="${chartBottom}" stroke="#ddd" stroke-width="1"/>`);
    out.push(text(x(s * 1000), chartBottom + 14, `${s}s`, { size: 10, anchor: 'middle', fill: '#555' }));
  }
  return out;
}

/** One lane per machine, with the faults it suffered. */
function faultLanes(faults: FaultEvent[], machines: string[], top: number, at: Layout): string[] {
  const out = [text(8, top - 6, 'faults', { size: 11, weight: 'bold' })];
  for (const [i, m] of machines.entries()) {
    const y = top + i * LANE;
    out.push(...lane(y, m), ...faults.filter((f) => f.machine === m).map((f) => faultMark(f, y, at)));
  }
  return out;
}

/** A kill is a tick, a clock change a diamond with its offset, anything healed later a bar. */
function faultMark(f: FaultEvent, y: number, { x, end }: Layout): string {
  const what = esc(`${f.kind} ${f.machine} ${f.target} at ${sec(f.at)}${f.healedAt !== null ? `, healed at ${sec(f.healedAt)}` : ''}`);
  const c = COLORS[f.kind];
  const mid = y + LANE / 2;
  if (f.kind === 'kill') {
    return `<g><title>${what}</title><line x1="${x(f.at)}" y1="${y + 3}" x2="${x(f.at)}" y2="${y + LANE - 3}" stroke="${c}" stroke-width="2"/></g>`;
  }
  if (f.kind === 'clock') {
    const cx = x(f.at);
    return `<g><title>${what}</title><path d="M${cx} ${mid - 7} L${cx + 6} ${mid} L${cx} ${mid + 7} L${cx - 6} ${mid} Z" fill="${c}"/>${text(cx + 8, mid + 4, f.target.replace('clock ', ''), { size: 10, fill: c })}</g>`;
  }
  const to = f.healedAt ?? end;
  return `<rect x="${x(f.at)}" y="${y + 5}" width="${Math.max(2, x(to) - x(f.at))}" height="${LANE - 10}" fill="${c}" opacity="0.8"><title>${what}</title></rect>`;
}

/** One lane per client, with its stalls. */
function clientLanes(clients: string[], stalls: Stall[], top: number, { x }: Layout): string[] {
  const out = [text(8, top - 6, 'client stalls', { size: 11, weight: 'bold' })];
  for (const [i, client] of clients.entries()) {
    const y = top + i * LANE;
    const writer = client.startsWith('w');
    out.push(...lane(y, `${client} ${writer ? '(writer)' : '(reader)'}`));
    for (const s of stalls.filter((s) => s.client === client)) {
      const what = `${client} stalled ${((s.to - s.from) / 1000).toFixed(1)} s (${sec(s.from)} to ${sec(s.to)}): ${writer ? 'waiting for an ack' : 'acknowledged posts not yet shown'}`;
      out.push(`<rect x="${x(s.from)}" y="${y + 6}" width="${Math.max(2, x(s.to) - x(s.from))}" height="${LANE - 12}" fill="${STALL_COLOR}"><title>${esc(what)}</title></rect>`);
    }
  }
  return out;
}

/** A lane's label and its line. */
function lane(y: number, label: string): string[] {
  const mid = y + LANE / 2;
  return [text(8, mid + 4, label, { size: 12 }), `<line x1="${LEFT}" y1="${mid}" x2="${LEFT + PLOT_W}" y2="${mid}" stroke="#ccc"/>`];
}

/** Acknowledged posts per second, and posts shown per second per reader. */
function throughput(history: History, { x, end, chartTop, chartBottom }: Layout): string[] {
  const bins = Math.ceil(end / 1000);
  const acks = new Array<number>(bins).fill(0);
  const shown = new Array<number>(bins).fill(0);
  for (const op of history.posts) if (op.ackAt !== null && op.ackAt < end) acks[Math.floor(op.ackAt / 1000)]++;
  for (const r of history.readers) for (const s of r.shown) if (s.at < end && s.at >= 0) shown[Math.floor(s.at / 1000)] += 1 / history.readers.length;
  const top = Math.max(1, ...acks, ...shown);
  const yv = (v: number): number => chartBottom - (v / top) * (CHART - 10);
  const series = (values: number[]): string => values.map((v, i) => `${x(i * 1000 + 500).toFixed(1)},${yv(v).toFixed(1)}`).join(' ');
  return [
    text(8, chartTop + 12, 'throughput', { size: 11, weight: 'bold' }),
    text(8, chartTop + 28, `${top.toFixed(0)} /s`, { size: 10, fill: '#555' }),
    text(8, chartBottom, '0', { size: 10, fill: '#555' }),
    `<line x1="${LEFT}" y1="${chartBottom}" x2="${LEFT + PLOT_W}" y2="${chartBottom}" stroke="#999"/>`,
    `<polyline points="${series(acks)}" fill="none" stroke="${ACK_COLOR}" stroke-width="1.5"><title>posts acknowledged per second (all writers)</title></polyline>`,
    `<polyline points="${series(shown)}" fill="none" stroke="${SHOWN_COLOR}" stroke-width="1" stroke-dasharray="3 2"><title>posts shown per second (per reader)</title></polyline>`,
  ];
}

function legend(y: number): string[] {
  const out: string[] = [];
  let lx = LEFT;
  const entries: [string, string][] = [
    ...(Object.keys(COLORS) as FaultKind[]).map((k) => [k, COLORS[k]] as [string, string]),
    ['client stall', STALL_COLOR],
    ['acks/s', ACK_COLOR],
    ['shown/s per reader', SHOWN_COLOR],
  ];
  for (const [label, color] of entries) {
    out.push(`<rect x="${lx}" y="${y - 9}" width="12" height="10" fill="${color}"/>`);
    out.push(text(lx + 16, y, label, { size: 11 }));
    lx += 24 + label.length * 6.5;
  }
  return out;
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
