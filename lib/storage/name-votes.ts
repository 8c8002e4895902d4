/**
 * The acceptor's records (core/name-acceptor.ts), durable before it answers: one
 * JSON line per change, appended to data/<machine>/name-votes.jsonl and fsynced
 * (changes waiting meanwhile go out in the next write, one fsync for all). The last
 * line of a name is its record. A line {"ready":true} says the records were learned
 * from the peers: a machine whose file has none (a new data dir) must not vote
 * before it has (docs/names.md). One writer: the machine's replicator.
 */
import { readFileSync, promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { EMPTY_RECORD, type AcceptorRecord } from '../core/name-acceptor';
import type { Ballot, NameValue } from '../core/name-ballot';
import { isUsername } from '../core/usernames';
import { machinePath } from './data-dir';
import { fsyncDir } from './fsync-dir';

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
  private readonly file: string;
  private fh: fs.FileHandle | null = null;
  private pending: string[] = [];
  private waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private writing = false;

  constructor(machineDir: string) {
    this.file = machinePath(machineDir, 'nameVotes');
  }

  /** Reads the file (a torn or damaged line is passed over); returns whether it existed. */
  async open(): Promise<boolean> {
    let text = '';
    let existed = true;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      existed = false;
    }
    for (const line of text.split('\n')) this.take(line);
    this.fh = await fs.open(this.file, 'a', 0o600);
    if (!existed) await fsyncDir(dirname(this.file));
    return existed;
  }

  private take(line: string): void {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (o?.ready === true) this.ready = true;
    const r = typeof o?.name === 'string' ? asRecord(o.promised, o.accepted) : null;
    if (r) this.records.set(o.name as string, r);
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
    return this.append(JSON.stringify({ name, promised: r.promised, accepted: r.accepted }));
  }

  /** The records were learned from the peers: this machine may vote. */
  async markReady(): Promise<void> {
    await this.append(JSON.stringify({ ready: true }));
    this.ready = true;
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = null;
  }

  private append(line: string): Promise<void> {
    this.pending.push(`${line}\n`);
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.writing) void this.flush();
    return done;
  }

  /** Writes what is pending in one write and one fsync, until nothing is (what comes meanwhile goes in the next). */
  private async flush(): Promise<void> {
    this.writing = true;
    while (this.pending.length > 0) {
      const text = this.pending.join('');
      const waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      try {
        if (this.fh === null) throw new Error('name votes not open');
        await this.fh.write(text);
        await this.fh.datasync();
        waiters.forEach((w) => w.resolve());
      } catch (err) {
        waiters.forEach((w) => w.reject(err as Error));
      }
    }
    this.writing = false;
  }
}
