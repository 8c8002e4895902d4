/**
 * How often each slot of a machine's tree was started again, and how many elections
 * among its guardians started a new primary, kept in data/<machine>/restarts.json so
 * that the counts survive the primary: a worker re-forked by a new primary carries on
 * its slot's count. Slot keys are `<role>.<slot>` (`worker.0`, `replicator.0`,
 * `guardian.1`). Only the primary writes it, on each change (rare: re-forks and
 * respawns back off), replacing it atomically.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { machinePath } from './data-dir';

interface Counts {
  slots: Record<string, number>;
  elections: number;
}

export class RestartLedger {
  private readonly counts: Counts;
  private readonly path: string;

  constructor(machineDir: string) {
    this.path = machinePath(machineDir, 'restarts');
    this.counts = readCounts(this.path);
  }

  get elections(): number {
    return this.counts.elections;
  }

  /** An election among the guardians started this primary. */
  elected(): void {
    this.counts.elections++;
    this.save();
  }

  count(key: string): number {
    return this.counts.slots[key] ?? 0;
  }

  /** Each of `keys` was started again. */
  bump(...keys: string[]): void {
    for (const key of keys) this.counts.slots[key] = this.count(key) + 1;
    this.save();
  }

  private save(): void {
    try {
      const tmp = `${this.path}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(this.counts), { mode: 0o600 });
      renameSync(tmp, this.path);
    } catch {
      // A full disk: the count goes on in memory (status shows it); the file catches up at the next.
    }
  }

  /** Totals by role (`worker`, `guardian`, ...) for the metrics. */
  byRole(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, n] of Object.entries(this.counts.slots)) {
      const role = key.slice(0, key.lastIndexOf('.'));
      out[role] = (out[role] ?? 0) + n;
    }
    return out;
  }
}

/** A missing or damaged file (the data dir is untrusted input) counts from zero, keeping what is sound. */
function readCounts(path: string): Counts {
  const count = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  try {
    const raw = JSON.parse(readFileSync(path, 'utf8')) as { slots?: unknown; elections?: unknown };
    const slots = typeof raw?.slots === 'object' && raw.slots !== null ? Object.entries(raw.slots) : [];
    return {
      slots: Object.fromEntries(slots.filter(([k, v]) => /^[a-z]+\.\d+$/.test(k) && count(v))),
      elections: count(raw?.elections) ? raw.elections : 0,
    };
  } catch {
    return { slots: {}, elections: 0 };
  }
}
