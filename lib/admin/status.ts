/**
 * `fbs status`: asks every machine's primary (and, where the primary does not
 * answer, its guardians) for its processes, and renders one view of the cluster.
 */
import { adminAddress, type ClusterConfig } from '../common/config';
import type { ProcessInfo__Output } from '../gen/ftchat/ProcessInfo';
import { AdminPeer } from '../supervision/admin-client';
import { guardianRole, primaryRole } from '../supervision/roles';

export interface ProcessView {
  machine: string;
  role: string;
  slot: string;
  pid: number;
  state: string;
  restarts: number;
  heartbeatAgeMs: number;
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
  machines: Record<string, { reachable: boolean; term: number }>;
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
  await Promise.all(
    Object.keys(config.machines).map(async (machine) => {
      const found = await machineProcesses(config, machine);
      status.machines[machine] = { reachable: found.primaryUp, term: found.term };
      status.processes.push(...found.processes);
      status.clocks.push(...found.clocks);
      status.quarantined.push(...found.quarantined.map((file) => ({ machine, file })));
      const primary = found.processes.find((p) => p.role === 'master');
      if (primary) status.master = { machine, pid: primary.pid, term: found.term };
    }),
  );
  const order = Object.keys(config.machines);
  const roleOrder = ['master', 'supervisor', 'worker', 'replicator', 'replica', 'guardian'];
  status.processes.sort(
    (a, b) =>
      order.indexOf(a.machine) - order.indexOf(b.machine) ||
      roleOrder.indexOf(a.role) - roleOrder.indexOf(b.role) ||
      a.slot.localeCompare(b.slot),
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
    return { primaryUp: true, term: Number(fromPrimary.term), processes: fromPrimary.processes.map(view), clocks, quarantined: fromPrimary.quarantined };
  }
  // The primary is down: say so, and list whichever guardians still answer.
  const processes: ProcessView[] = [
    { machine, role: primaryRole(config, machine), slot: '', pid: 0, state: 'down', restarts: 0, heartbeatAgeMs: -1 },
  ];
  for (let slot = 0; slot < config.guardians; slot++) {
    const g = await ask(adminAddress(config, machine, slot));
    processes.push(
      g ? view(g.processes[0]) : { machine, role: guardianRole(config, machine), slot: String(slot), pid: 0, state: 'down', restarts: 0, heartbeatAgeMs: -1 },
    );
  }
  return { primaryUp: false, term: 0, processes, clocks: [], quarantined: [] };
}

function view(p: ProcessInfo__Output): ProcessView {
  return {
    machine: p.machine,
    role: p.role,
    slot: p.slot,
    pid: p.pid,
    state: p.state,
    restarts: p.restarts,
    heartbeatAgeMs: Number(p.heartbeat_age_ms),
  };
}

export function formatStatus(s: ClusterStatus): string {
  const rows = [['MACHINE', 'ROLE', 'SLOT', 'PID', 'STATE', 'HEARTBEAT', 'RESTARTS']];
  for (const p of s.processes) {
    rows.push([p.machine, p.role, p.slot || '-', String(p.pid || '-'), p.state, p.heartbeatAgeMs < 0 ? '-' : `${p.heartbeatAgeMs}ms`, String(p.restarts)]);
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
  return `${master}\n${table}\n${skewed}${quarantined}`;
}

function describeSkew(c: ClockView): string {
  const abs = Math.abs(c.offsetMs);
  const size = abs >= 3_600_000 ? `${(abs / 3_600_000).toFixed(1)} h` : abs >= 60_000 ? `${(abs / 60_000).toFixed(1)} min` : `${abs} ms`;
  return `WARNING: ${c.peer}'s clock is ${size} ${c.offsetMs < 0 ? 'behind' : 'ahead of'} ${c.machine}'s (beyond the configured bound)\n`;
}
