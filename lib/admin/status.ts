/**
 * `fbs status`: asks every machine's primary (and, where the primary does not
 * answer, its guardians) for its processes, and renders one view of the cluster.
 */
import { adminAddress, metricsUrl, peerAddress, type ClusterConfig } from '../common/config';
import type { ProcessInfo__Output } from '../gen/ftchat/ProcessInfo';
import { AdminPeer } from '../supervision/admin-client';
import { guardianRole, primaryRole } from '../supervision/roles';

export interface ProcessView {
  machine: string;
  role: string;
  /** A worker's, the replicator's or a guardian's slot; null for the primary. */
  slot: number | null;
  pid: number;
  state: string;
  /** Starts after the first, counted per slot across primaries. */
  restarts: number;
  heartbeatAgeMs: number;
  /** How long it has run (-1 unknown). */
  uptimeMs: number;
  /** Where it listens: clients for workers, peers for the replicator, admin for the primary and guardians. */
  address: string;
}

export interface ClockView {
  machine: string;
  peer: string;
  /** The peer's clock minus this machine's, as its replicator last measured it. */
  offsetMs: number;
  beyondBound: boolean;
}

export interface ClusterStatus {
  master: { machine: string; pid: number; term: number } | null;
  /** Each machine: does its primary answer, its term, and where Prometheus scrapes it. */
  machines: Record<string, { reachable: boolean; term: number; metricsUrl: string }>;
  processes: ProcessView[];
  clocks: ClockView[];
  /** Corrupt room-file lines moved aside, until an operator deletes them. */
  quarantined: { machine: string; file: string }[];
}

/**
 * How long a machine gets to answer before it is shown down. A stopped machine
 * refuses the connection at once; a busy one (a host at a load average of 15)
 * took over 700 ms from a freshly started `fbs status`, and was shown down.
 */
export const MACHINE_ANSWER_MS = 2_000;

export async function clusterStatus(config: ClusterConfig): Promise<ClusterStatus> {
  const status: ClusterStatus = { master: null, machines: {}, processes: [], clocks: [], quarantined: [] };
  const order = Object.keys(config.machines);
  // Asked at once, read in the config's order (whichever answers first).
  const answers = await Promise.all(order.map((machine) => machineProcesses(config, machine)));
  order.forEach((machine, i) => {
    const found = answers[i];
    status.machines[machine] = { reachable: found.primaryUp, term: found.term, metricsUrl: metricsUrl(config, machine) };
    status.processes.push(...found.processes);
    status.clocks.push(...found.clocks);
    status.quarantined.push(...found.quarantined.map((file) => ({ machine, file })));
    const primary = found.primaryUp ? found.processes.find((p) => p.role === 'master') : undefined;
    if (primary) status.master = { machine, pid: primary.pid, term: found.term };
  });
  const roleOrder = ['master', 'supervisor', 'worker', 'replicator', 'replica', 'guardian'];
  status.processes.sort(
    (a, b) =>
      order.indexOf(a.machine) - order.indexOf(b.machine) ||
      roleOrder.indexOf(a.role) - roleOrder.indexOf(b.role) ||
      (a.slot ?? -1) - (b.slot ?? -1),
  );
  return status;
}

async function machineProcesses(config: ClusterConfig, machine: string) {
  const ask = async (address: string) => {
    const peer = new AdminPeer(address, config);
    try {
      return await peer.status(MACHINE_ANSWER_MS);
    } catch {
      return null;
    } finally {
      peer.close();
    }
  };
  const fromPrimary = await ask(adminAddress(config, machine));
  if (fromPrimary) {
    const bound = fromPrimary.max_clock_offset_ms;
    const clocks = Object.entries(fromPrimary.clock_offsets_ms).map(([peer, ms]) => ({
      machine,
      peer,
      offsetMs: Number(ms),
      beyondBound: Math.abs(Number(ms)) > bound,
    }));
    return { primaryUp: true, term: Number(fromPrimary.term), processes: fromPrimary.processes.map((p) => view(config, p)), clocks, quarantined: fromPrimary.quarantined };
  }
  // The primary is down: say so, and list whichever guardians still answer.
  const down = (role: string, slot: number | null): ProcessView => ({ machine, role, slot, pid: 0, state: 'down', restarts: 0, heartbeatAgeMs: -1, uptimeMs: -1, address: addressOf(config, machine, role, slot) });
  const processes: ProcessView[] = [down(primaryRole(config, machine), null)];
  for (let slot = 0; slot < config.guardians; slot++) {
    const g = await ask(adminAddress(config, machine, slot));
    processes.push(g ? view(config, g.processes[0]) : down(guardianRole(config, machine), slot));
  }
  return { primaryUp: false, term: 0, processes, clocks: [], quarantined: [] };
}

function view(config: ClusterConfig, p: ProcessInfo__Output): ProcessView {
  const slot = p.slot === '' ? null : Number(p.slot);
  return {
    machine: p.machine,
    role: p.role,
    slot,
    pid: p.pid,
    state: p.state,
    restarts: p.restarts,
    heartbeatAgeMs: Number(p.heartbeat_age_ms),
    uptimeMs: Number(p.uptime_ms ?? -1),
    address: addressOf(config, p.machine, p.role, slot),
  };
}

/** Where a process of `role` listens, from the config (a machine not in it: none). */
function addressOf(config: ClusterConfig, machine: string, role: string, slot: number | null): string {
  const m = config.machines[machine];
  if (!m) return '';
  if (role === 'worker') return `${m.host}:${m.port}`;
  if (role === 'replicator') return peerAddress(config, machine);
  if (role === 'replica' || role === 'guardian') return adminAddress(config, machine, slot ?? 0);
  return adminAddress(config, machine);
}

/** No machine answers at all: the cluster is down (`fbs status` exits non-zero). */
export function clusterDown(s: ClusterStatus): boolean {
  return s.processes.every((p) => p.state === 'down');
}

/** What each role is: the contract's names, said once under the table. */
export const ROLE_LEGEND = [
  'master      the master machine\'s primary: forks its children, watches every machine\'s, elected again by its replicas',
  'supervisor  a replica machine\'s primary: forks and revives its children',
  'worker      serves clients (one slot each, sharing the client port)',
  'replicator  syncs the machine\'s data with the other machines (the peer port)',
  'replica     a guardian of the master machine: with its siblings it elects one to revive the master',
  'guardian    a guardian of a replica machine: revives its supervisor the same way',
].join('\n');

/** `fbs status` when no machine answers: what to try. */
export const DOWN_HINT = 'no machine of the cluster answers: is it running? start it with `npm start` (all machines here) or `fbs start --machine <id>`';

export function formatStatus(s: ClusterStatus, legend = true): string {
  const rows = [['MACHINE', 'ROLE', 'SLOT', 'PID', 'STATE', 'HEARTBEAT', 'RESTARTS', 'UPTIME', 'ADDRESS']];
  for (const p of s.processes) {
    const heartbeat = p.heartbeatAgeMs < 0 ? '-' : `${p.heartbeatAgeMs}ms`;
    rows.push([p.machine, p.role, p.slot === null ? '-' : String(p.slot), String(p.pid || '-'), p.state, heartbeat, String(p.restarts), duration(p.uptimeMs), p.address]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const table = rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
  const master = s.master ? `master: ${s.master.machine} pid ${s.master.pid}, term ${s.master.term}` : 'master: DOWN';
  // Order never depends on wall clocks, but an operator must know of a machine hours off.
  const skewed = s.clocks
    .filter((c) => c.beyondBound)
    .map(describeSkew)
    .join('');
  const quarantined = s.quarantined
    .map((q) => `QUARANTINED on ${q.machine}: ${q.file} (a corrupt line moved aside; its event is fetched from a peer; delete the file once checked)\n`)
    .join('');
  return `${master}\n${table}\n${skewed}${quarantined}${legend ? `\nroles:\n${ROLE_LEGEND.replace(/^/gm, '  ')}\n` : ''}`;
}

/** 3h04m, 12m05s, 41s; '-' unknown. */
export function duration(ms: number): string {
  if (ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor(s / 3600) % 24).padStart(2, '0')}h`;
}

function describeSkew(c: ClockView): string {
  const abs = Math.abs(c.offsetMs);
  const size = abs >= 3_600_000 ? `${(abs / 3_600_000).toFixed(1)} h` : abs >= 60_000 ? `${(abs / 60_000).toFixed(1)} min` : `${abs} ms`;
  return `WARNING: ${c.peer}'s clock is ${size} ${c.offsetMs < 0 ? 'behind' : 'ahead of'} ${c.machine}'s (beyond the configured bound)\n`;
}
