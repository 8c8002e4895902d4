/**
 * `fbs dump`: a machine's data as one canonical text, one event per line in the
 * ordering key's order. Read-only (no lock, no repair); a post stored twice under
 * two slots (a retry that reached two machines) is shown once, the copy `shownCopy`
 * picks (as every reader does), so machines holding the same events print byte-identical dumps.
 *
 * In bounded memory, however long the history: an external merge sort. Room files
 * are read one at a time into runs of about 64 MB, each sorted and spilled to a
 * temp file, then the runs are merged. Copies of one id always share a room (a
 * post's room is its author's; a creation's is the room), so they are found while
 * reading that room, and only they are remembered.
 *
 * Only events that count are shown (core/room-key.ts: counts): a room's creates and
 * posts are judged once its file is read (its creates are in it), joins and leaves
 * at the end, once every room's key is known. `proved` says which creates carry a
 * valid proof (storage/room-keys: provedBy); without it none does.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareEvents, eventToLine, shownCopy, type ChatEvent } from '../core/event';
import { choiceOf, counts, decide, type Choice } from '../core/room-key';
import { parseLine, parseRoomLog } from '../core/room-log';
import { machineDirOf, machinePath } from '../storage/data-dir';
import { provedBy } from '../storage/room-keys';
import { proofTrust } from '../common/name-trust';
import type { ClusterConfig } from '../common/config';

const RUN_BYTES = 64 << 20;
const READ_BYTES = 1 << 20;

/** Writes the dump, a chunk of whole lines at a time. */
export async function writeDump(dataDir: string, machine: string, write: (text: string) => void, runBytes = RUN_BYTES, proved: (e: ChatEvent) => boolean = () => false): Promise<void> {
  const roomsDir = machinePath(machineDirOf(dataDir, machine), 'rooms');
  let names: string[];
  try {
    names = (await fs.readdir(roomsDir)).filter((n) => n.endsWith('.jsonl')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const shown = new Map<string, ChatEvent>(); // id -> the copy shown, for ids stored more than once
  const keys = new Map<string, string>(); // room -> its key's fingerprint
  const keyOf = (user: string): string | null => keys.get(user) ?? null;
  const out = new Output(write);
  const emit = (e: ChatEvent): void => {
    if ((e.kind === 'join' || e.kind === 'leave') && !counts(e, keyOf)) return;
    const copy = shown.get(e.id);
    if (!copy || (copy.origin === e.origin && copy.seq === e.seq)) out.line(eventToLine(e));
  };
  let tmp: string | null = null;
  const runs: string[] = [];
  let run: ChatEvent[] = [];
  let bytesInRun = 0;
  const spill = (): void => {
    tmp ??= mkdtempSync(join(tmpdir(), 'ftchat-dump-'));
    const path = join(tmp, `run-${runs.length}`);
    writeFileSync(path, run.sort(compareEvents).map((e) => `${eventToLine(e)}\n`).join(''));
    runs.push(path);
    run = [];
    bytesInRun = 0;
  };
  try {
    for (const name of names) {
      const buf = await fs.readFile(join(roomsDir, name));
      const seen = new Map<string, ChatEvent>();
      for (const e of roomEvents(buf, keys, proved)) {
        const first = seen.get(e.id);
        if (!first) seen.set(e.id, e);
        else shown.set(e.id, shownCopy(shown.get(e.id) ?? first, e));
        run.push(e);
      }
      bytesInRun += buf.length;
      if (bytesInRun >= runBytes) spill();
    }
    if (runs.length === 0) run.sort(compareEvents).forEach(emit);
    else {
      if (run.length > 0) spill();
      mergeRuns(runs, emit);
    }
    out.flush();
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * A room file's events that count (its creates and posts are judged here: the room's
 * key is its own creates'), its key noted in `keys`; joins and leaves wait for emit.
 */
function roomEvents(buf: Buffer, keys: Map<string, string>, proved: (e: ChatEvent) => boolean): ChatEvent[] {
  const events = parseRoomLog(buf).events;
  let deciding: Choice | null = null;
  let room = '';
  for (const e of events) if (e.kind === 'create') [deciding, room] = [decide(deciding, e, proved, choiceOf), e.room];
  if (deciding) keys.set(room, deciding.fingerprint);
  const keyOf = (user: string): string | null => keys.get(user) ?? null;
  return events.filter((e) => (e.kind !== 'create' && e.kind !== 'post') || counts(e, keyOf));
}

/** `fbs dump`: a machine of the cluster, its proofs checked against the cluster's trust roots. */
export function writeClusterDump(config: ClusterConfig, machine: string, write: (text: string) => void): Promise<void> {
  return writeDump(config.dataDir, machine, write, RUN_BYTES, provedBy(proofTrust(config)));
}

/** A machine's whole dump as one string, as `fbs dump` prints it (the chaos run). */
export function clusterDump(config: ClusterConfig, machine: string): Promise<string> {
  return dumpMachine(config.dataDir, machine, provedBy(proofTrust(config)));
}

/** The whole dump as one string (small data: tests). */
export async function dumpMachine(dataDir: string, machine: string, proved?: (e: ChatEvent) => boolean): Promise<string> {
  const parts: string[] = [];
  await writeDump(dataDir, machine, (text) => parts.push(text), RUN_BYTES, proved);
  return parts.join('');
}

/** k-way merge of sorted run files, in key order. */
function mergeRuns(paths: string[], emit: (e: ChatEvent) => void): void {
  const readers = paths.map((p) => new RunReader(p));
  try {
    const heads = readers.map((r) => r.next());
    for (;;) {
      let min = -1;
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i];
        if (h && (min < 0 || compareEvents(h, heads[min] as ChatEvent) < 0)) min = i;
      }
      if (min < 0) return;
      emit(heads[min] as ChatEvent);
      heads[min] = readers[min].next();
    }
  } finally {
    readers.forEach((r) => r.close());
  }
}

/** Events of a run file, one at a time, read a megabyte at a time. */
class RunReader {
  private readonly fd: number;
  private pending = '';
  private lines: string[] = [];
  private at = 0;
  private eof = false;

  constructor(path: string) {
    this.fd = openSync(path, 'r');
  }

  next(): ChatEvent | null {
    while (this.at >= this.lines.length) {
      if (this.eof) return null;
      const buf = Buffer.alloc(READ_BYTES);
      const n = readSync(this.fd, buf, 0, buf.length, null);
      if (n === 0) this.eof = true;
      const text = this.pending + buf.toString('utf8', 0, n);
      const cut = text.lastIndexOf('\n');
      this.lines = cut < 0 ? [] : text.slice(0, cut).split('\n');
      this.pending = cut < 0 ? text : text.slice(cut + 1);
      this.at = 0;
    }
    const e = parseLine(this.lines[this.at++]);
    if (typeof e === 'string') throw new Error(`dump run file damaged: ${e}`);
    return e;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Batches lines into chunks of about a megabyte. */
class Output {
  private parts: string[] = [];
  private bytes = 0;

  constructor(private readonly write: (text: string) => void) {}

  line(text: string): void {
    this.parts.push(text, '\n');
    this.bytes += text.length + 1;
    if (this.bytes >= READ_BYTES) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0) return;
    this.write(this.parts.join(''));
    this.parts = [];
    this.bytes = 0;
  }
}
