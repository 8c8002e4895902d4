/**
 * The acceptor's records (core/name-acceptor.ts), durable before it answers: one
 * JSON line per change, appended to data/<machine>/name-votes.jsonl and fsynced
 * (changes waiting meanwhile go out in the next write, one fsync for all:
 * synced-append-file.ts). The last line of a name is its record. A line {"ready":true} says the records were learned
 * from the peers: a machine whose file has none (a new data dir) must not vote
 * before it has (docs/names.md). One writer: the machine's replicator.
 */
import { readFileSync } from 'node:fs';
import { EMPTY_RECORD, type AcceptorRecord } from '../core/name-acceptor';
import type { Ballot, NameValue } from '../core/name-ballot';
import { isUsername } from '../core/usernames';
import { machinePath } from './data-dir';
import { SyncedAppendFile } from './synced-append-file';

function asBallot(x: unknown): Ballot | null {
  const b = x as Record<string, unknown> | null;
  return b && Number.isSafeInteger(b.round) && (b.round as number) >= 0 && typeof b.by === 'string' && b.by.length <= 80 ? { round: b.round as number, by: b.by } : null;
}

function asValue(x: unknown): NameValue | null {
  const v = x as Record<string, unknown> | null;
  return v && isUsername(v.name) && typeof v.key === 'string' && v.key.length <= 128 ? { name: v.name, key: v.key } : null;
}

/** A record from outside (a line of the file, a peer's answer), or null if malformed. */
export function asRecord(promised: unknown, accepted: unknown): AcceptorRecord | null {
  const p = promised === null || promised === undefined ? null : asBallot(promised);
  if (p === null && promised !== null && promised !== undefined) return null;
  if (accepted === null || accepted === undefined) return { promised: p, accepted: null };
  const a = accepted as Record<string, unknown>;
  const ballot = asBallot(a.ballot);
  const value = asValue(a.value);
  return ballot && value ? { promised: p, accepted: { ballot, value } } : null;
}

export class NameVotes {
  private readonly records = new Map<string, AcceptorRecord>();
  /** Whether the records were learned from the peers (or never lost). */
  ready = false;
  private readonly file: SyncedAppendFile;

  constructor(machineDir: string) {
    this.file = new SyncedAppendFile(machinePath(machineDir, 'nameVotes'));
  }

  /** Reads the file (a torn or damaged line is passed over); returns whether it existed. */
  async open(): Promise<boolean> {
    let text = '';
    let existed = true;
    try {
      text = readFileSync(this.file.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      existed = false;
    }
    for (const line of text.split('\n')) {
      const o = parseLine(line);
      if (o?.ready === true) this.ready = true;
      const r = typeof o?.name === 'string' ? asRecord(o.promised, o.accepted) : null;
      if (r) this.records.set(o?.name as string, r);
    }
    await this.file.open(!existed);
    return existed;
  }

  get(name: string): AcceptorRecord {
    return this.records.get(name) ?? EMPTY_RECORD;
  }

  /** Every record, for a peer learning them. */
  all(): [string, AcceptorRecord][] {
    return [...this.records];
  }

  get size(): number {
    return this.records.size;
  }

  /** Stores a record; resolves once it is on disk. */
  put(name: string, r: AcceptorRecord): Promise<void> {
    this.records.set(name, r);
    return this.file.append(JSON.stringify({ name, promised: r.promised, accepted: r.accepted }));
  }

  /** The records were learned from the peers: this machine may vote. */
  async markReady(): Promise<void> {
    await this.file.append(JSON.stringify({ ready: true }));
    this.ready = true;
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

/** A line of the file as an object, or null if it is not one (torn, damaged). */
function parseLine(line: string): Record<string, unknown> | null {
  try {
    const o = JSON.parse(line) as unknown;
    return typeof o === 'object' && o !== null ? (o as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
