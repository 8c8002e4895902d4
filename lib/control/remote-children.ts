/**
 * The master's judgement of other machines' children (workers, replicator) from
 * their primaries' status reports: which lost child to ask that machine's
 * primary to revive. A child is lost when it has been silent too long (its
 * reported heartbeat age plus the time since the report) or when its slot has been
 * missing from the reports too long. Each lost (machine, role, slot, pid) is asked
 * for once, and again only after a back-off. A machine whose primary does not
 * answer is not judged: its guardians revive the primary, which re-forks all.
 *
 * Pure: no timers and no I/O. Fed `(input, now)` through step() from one
 * monotonic clock; each tick returns the asks that are due.
 */
import type { Supervisor, Tick } from './supervisor';

export interface ChildSlot {
  role: string;
  slot: number;
}

export interface ReportedChild extends ChildSlot {
  pid: number;
  /** ms since the child last answered its primary's ping; -1 while it starts (never answered). */
  heartbeatAgeMs: number;
}

export interface ReviveAsk extends ChildSlot {
  machine: string;
  /** The pid believed lost; 0 when the slot has no child. */
  pid: number;
  reason: 'silent' | 'missing';
  /** How long it has been silent or missing. */
  forMs: number;
}

export type RemoteInput =
  /** `machine`'s primary reported its children (anything not expected, e.g. guardians, is ignored). */
  | { kind: 'report'; machine: string; children: ReportedChild[] }
  /** `machine`'s primary did not answer: nothing is judged there until it reports again. */
  | { kind: 'unanswered'; machine: string }
  /** Every poll: the lost children to ask revival for now, each once per back-off. */
  | Tick;

export interface RemoteChildWatchOptions {
  /** The children every primary runs. */
  expected: ChildSlot[];
  /** Silence after which a child is lost; must exceed the primary's ping interval. */
  hungAfterMs: number;
  /** How long a slot may be missing from the reports (a re-fork's back-off) before it is lost. */
  missingAfterMs: number;
  /** A report older than this is not judged: its primary has stopped answering. */
  reportFreshMs: number;
  /** How long before the same lost child is asked for again. */
  askAgainAfterMs: number;
}

interface MachineReport {
  at: number;
  children: ReportedChild[];
  /** slot key -> when it was first seen missing */
  missingSince: Map<string, number>;
}

const slotKey = (c: ChildSlot): string => `${c.role}:${c.slot}`;

export class RemoteChildWatch implements Supervisor<RemoteInput, ReviveAsk> {
  private readonly expected: Set<string>;
  private readonly machines = new Map<string, MachineReport>();
  /** ask key -> when it was asked */
  private readonly asked = new Map<string, number>();

  constructor(private readonly options: Readonly<RemoteChildWatchOptions>) {
    if (!(options.hungAfterMs > 0 && options.missingAfterMs > 0 && options.reportFreshMs > 0 && options.askAgainAfterMs > 0)) {
      throw new Error('remote child watch: every limit must be a positive number of ms');
    }
    this.expected = new Set(options.expected.map(slotKey));
  }

  step(input: RemoteInput, now: number): ReviveAsk[] {
    if (input.kind === 'report') this.report(input.machine, input.children, now);
    else if (input.kind === 'unanswered') this.machines.delete(input.machine);
    else return this.due(now);
    return [];
  }

  private report(machine: string, children: ReportedChild[], now: number): void {
    const mine = children.filter((c) => this.expected.has(slotKey(c)));
    const present = new Set(mine.map(slotKey));
    const before = this.machines.get(machine)?.missingSince;
    const missingSince = new Map<string, number>();
    for (const key of this.expected) if (!present.has(key)) missingSince.set(key, before?.get(key) ?? now);
    this.machines.set(machine, { at: now, children: mine, missingSince });
  }

  private due(now: number): ReviveAsk[] {
    const { hungAfterMs, missingAfterMs, reportFreshMs, askAgainAfterMs } = this.options;
    for (const [key, at] of this.asked) if (now - at >= askAgainAfterMs) this.asked.delete(key);
    const out: ReviveAsk[] = [];
    const ask = (a: ReviveAsk): void => {
      const key = `${a.machine}/${slotKey(a)}/${a.pid}`;
      if (this.asked.has(key)) return;
      this.asked.set(key, now);
      out.push(a);
    };
    for (const [machine, r] of this.machines) {
      if (now - r.at > reportFreshMs) continue;
      for (const c of r.children) {
        // A starting child is left to its primary's startup allowance.
        if (c.heartbeatAgeMs < 0) continue;
        const silent = c.heartbeatAgeMs + (now - r.at);
        if (silent > hungAfterMs) ask({ machine, role: c.role, slot: c.slot, pid: c.pid, reason: 'silent', forMs: silent });
      }
      for (const c of this.options.expected) {
        const since = r.missingSince.get(slotKey(c));
        if (since !== undefined && now - since > missingAfterMs) ask({ machine, ...c, pid: 0, reason: 'missing', forMs: now - since });
      }
    }
    return out;
  }
}
