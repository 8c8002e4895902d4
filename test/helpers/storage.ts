/**
 * Real storage for integration tests: temp machine dirs, journals whose log lines
 * are captured, a raw read of every room file, and writer child processes
 * (test/helpers/append-worker.ts, run from dist) that report what they committed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ChatEvent } from '../../lib/core/event';
import { parseRoomLog, type CorruptLine } from '../../lib/core/room-log';
import { createLogger } from '../../lib/common/log';
import { DEFAULT_JOURNAL_OPTIONS, Journal, type JournalOptions, type LoadReport } from '../../lib/storage/journal';
import { RoomFiles, type RoomFilesOptions } from '../../lib/storage/room-files';
import type { AppendWorkerOptions } from './append-worker';
import { waitFor } from './wait';
import { ownChildren } from './reaper';
import { machinePath } from '../../lib/storage/data-dir';

// Writers and temp dirs die with the test process, even if tap kills it (see reaper.ts).
ownChildren();
export const APPEND_WORKER = join(resolve(__dirname, '..', '..'), 'dist', 'test', 'helpers', 'append-worker.js');

/** Every event a journal has applied, read back from disk page by page (in key order within a page). */
export function readAll(journal: Journal, page = 1_000): ChatEvent[] {
  let cursor = new Map<string, number>();
  const out: ChatEvent[] = [];
  for (;;) {
    const p = journal.reads.page(cursor, () => true, page);
    out.push(...p.events);
    cursor = p.cursor;
    if (p.done) return out;
  }
}

/** The first stored event with this id, if any (small test data only: reads everything). */
export function findById(journal: Journal, id: string): ChatEvent | undefined {
  return readAll(journal).find((e) => e.id === id);
}

/** A fresh temp dir, removed when the test ends. */
export function tempDir(t: { teardown(fn: () => void): void }, prefix = 'ftchat-storage-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface LogEntry {
  level: string;
  msg: string;
  [k: string]: unknown;
}

/** A journal over `machineDir`, not loaded yet (as a child is before its load), its log lines parsed into `logs`. */
export function newJournal(
  machineDir: string,
  origin: string,
  logs: LogEntry[] = [],
  opts: Partial<JournalOptions> = {},
  fileOpts: Partial<RoomFilesOptions> = {},
): { journal: Journal; logs: LogEntry[] } {
  const log = createLogger({ machine: 'test', role: 'test', origin }, (line) => logs.push(JSON.parse(line) as LogEntry));
  const fail = (err: Error): never => {
    throw err;
  };
  const files = new RoomFiles({ machineDir, log, lockStaleMs: 2000, onCompromised: fail, ...fileOpts });
  return { journal: new Journal(files, origin, log, undefined, fail, { ...DEFAULT_JOURNAL_OPTIONS, ...opts }), logs };
}

/** The same, loaded. */
export async function openJournal(
  machineDir: string,
  origin: string,
  logs: LogEntry[] = [],
  opts: Partial<JournalOptions> = {},
  fileOpts: Partial<RoomFilesOptions> = {},
): Promise<{ journal: Journal; logs: LogEntry[] }> {
  const opened = newJournal(machineDir, origin, logs, opts, fileOpts);
  loads.set(opened.journal, await opened.journal.load());
  return opened;
}

const loads = new WeakMap<Journal, LoadReport>();

/** What a journal opened by openJournal read at its load past its checkpoint, and why. */
export function loadReportOf(journal: Journal): LoadReport {
  const report = loads.get(journal);
  if (!report) throw new Error('not a journal openJournal loaded');
  return report;
}

export interface RawRoomFile {
  room: string;
  bytes: Buffer;
  events: ChatEvent[];
  corrupt: CorruptLine[];
  tail: number;
}

/** Every room file of a machine dir, parsed as it is on disk (no repair). */
export function readRoomFiles(machineDir: string): RawRoomFile[] {
  const dir = machinePath(machineDir, 'rooms');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.jsonl'))
    .sort()
    .map((name) => {
      const bytes = readFileSync(join(dir, name));
      const { events, corrupt, tail } = parseRoomLog(bytes);
      return { room: name.slice(0, -'.jsonl'.length), bytes, events, corrupt, tail };
    });
}

/** Seqs of one origin across all files, ascending. */
export function seqsOf(files: RawRoomFile[], origin: string): number[] {
  return files
    .flatMap((f) => f.events)
    .filter((e) => e.origin === origin)
    .map((e) => e.seq)
    .sort((a, b) => a - b);
}

/** 1..n */
export function range1(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

export interface Writer {
  child: ChildProcess;
  /** Ids the writer reported as committed, in report order. */
  committed: string[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Starts a writer spawned with waitForGo once it has loaded. */
  go: () => Promise<void>;
  /** SIGKILL by pid, if still running; resolves once it has exited. */
  kill: () => Promise<void>;
}

/** Starts an append worker process; `t.teardown` kills it by pid if the test did not. */
export function spawnWriter(t: { teardown(fn: () => void | Promise<void>): void }, opts: AppendWorkerOptions): Writer {
  if (!existsSync(APPEND_WORKER)) throw new Error(`${APPEND_WORKER} is missing: run \`npx tsc -p .\` first`);
  const child = spawn(process.execPath, [APPEND_WORKER, JSON.stringify(opts)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const committed: string[] = [];
  let partial = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    committed.push(...lines.filter((l) => l !== ''));
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  // 'close' comes after the pipes drained, so `committed` is complete by then.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await exited;
  };
  const go = async (): Promise<void> => {
    await waitFor(`${opts.origin} to load`, () => err.includes('"msg":"append worker ready"'), 30_000);
    child.stdin!.write('go\n');
  };
  t.teardown(kill);
  return { child, committed, stderr: () => err, exited, go, kill };
}
