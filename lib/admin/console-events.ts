/**
 * What changed between two views of the cluster, as the console's strip of events:
 * a process gone (killed, or its machine down), a process back with a new pid, a
 * new master or term (an election), a machine unreachable or reachable again, and
 * a replication link between two machines down or up again. Pure.
 */
import type { ClusterStatus, ProcessView } from './status';

export interface ConsoleEvent {
  at: number;
  kind: 'down' | 'revived' | 'election' | 'machine-down' | 'machine-up' | 'link-down' | 'link-up';
  text: string;
  /** The process it is about (down: the pid gone; revived: the new pid). */
  process?: Pick<ProcessView, 'machine' | 'role' | 'slot' | 'pid'>;
}

/** A process's place in its tree: the same key across its restarts. */
export function processKey(p: Pick<ProcessView, 'machine' | 'role' | 'slot'>): string {
  return `${p.machine} ${p.role}${p.slot === null ? '' : ` ${p.slot}`}`;
}

function who({ machine, role, slot, pid }: ProcessView): ConsoleEvent['process'] {
  return { machine, role, slot, pid };
}

export function consoleEvents(prev: ClusterStatus, next: ClusterStatus, at: number): ConsoleEvent[] {
  const events: ConsoleEvent[] = [];
  const now = new Map(next.processes.map((p) => [processKey(p), p]));
  for (const before of prev.processes) {
    if (before.pid === 0 || before.state === 'down') continue;
    const after = now.get(processKey(before));
    if (after && after.pid === before.pid && after.state !== 'down') continue;
    events.push({ at, kind: 'down', text: `${processKey(before)}: pid ${before.pid} down`, process: who(before) });
  }
  const was = new Map(prev.processes.map((p) => [processKey(p), p]));
  for (const after of next.processes) {
    const before = was.get(processKey(after));
    if (after.pid === 0 || after.state === 'down' || !before || before.pid === after.pid) continue;
    events.push({ at, kind: 'revived', text: `${processKey(after)}: ${before.pid === 0 ? 'up' : 'back'} as pid ${after.pid}`, process: who(after) });
  }
  const [m0, m1] = [prev.master, next.master];
  if (m1 && (!m0 || m0.machine !== m1.machine || m0.term !== m1.term)) {
    events.push({ at, kind: 'election', text: `master ${m1.machine} pid ${m1.pid}, term ${m1.term}${m0 ? ` (was ${m0.machine}, term ${m0.term})` : ''}` });
  }
  for (const [machine, { reachable }] of Object.entries(next.machines)) {
    const before = prev.machines[machine]?.reachable;
    if (before === true && !reachable) events.push({ at, kind: 'machine-down', text: `${machine} does not answer` });
    if (before === false && reachable) events.push({ at, kind: 'machine-up', text: `${machine} answers again` });
  }
  return events;
}

/** Per machine, per peer: whether it pulls a replication stream from that peer; null when its metrics do not answer. */
export type PeerLinks = Record<string, Record<string, boolean> | null>;

/** A link is news when it changes between two answers of its machine; a machine that does not answer says so itself. */
export function linkEvents(prev: PeerLinks, next: PeerLinks, at: number): ConsoleEvent[] {
  const events: ConsoleEvent[] = [];
  for (const [machine, links] of Object.entries(next)) {
    for (const [peer, up] of Object.entries(links ?? {})) {
      const before = prev[machine]?.[peer];
      if (before === true && !up) events.push({ at, kind: 'link-down', text: `link ${peer} → ${machine} down: ${machine} does not pull from ${peer}` });
      if (before === false && up) events.push({ at, kind: 'link-up', text: `link ${peer} → ${machine} up: ${machine} pulls from ${peer}` });
    }
  }
  return events;
}
