/**
 * What a chaos run records: every post a writer sent (when, and whether and when
 * it was acknowledged), every post a reader was shown (in order, with the time),
 * and every fault the nemesis injected. Client agents report as JSON lines (one
 * AgentRecord each, epoch ms); the recorder turns them into the History the
 * checker reads, with times in ms since the workload began.
 */

/** Lines a client agent prints on stdout. */
export type AgentRecord =
  | { k: 'ready'; client: string }
  | { k: 'following'; reader: string; at: number }
  | { k: 'sent'; writer: string; n: number; at: number }
  | { k: 'ack'; writer: string; n: number; at: number; origin: string }
  /** One attempt failed (no server reachable); the writer retries the same id. */
  | { k: 'fail'; writer: string; n: number; at: number; error: string }
  /** A server refused the post (not a transient failure); the writer moves on. */
  | { k: 'refused'; writer: string; n: number; at: number; error: string }
  | { k: 'shown'; reader: string; line: string; at: number }
  | { k: 'note'; reader: string; text: string; at: number }
  | { k: 'done'; writer: string };

export interface PostOp {
  writer: string;
  n: number;
  sentAt: number;
  ackAt: number | null;
  /** The writer slot that stored it, from the acknowledgement. */
  origin: string | null;
  /** Times of failed attempts (each retried with the same id). */
  failures: number[];
  refused: string | null;
}

export interface Shown {
  writer: string;
  n: number;
  at: number;
}

export interface ReaderLog {
  reader: string;
  /** When its chat feed was open: every post sent from then on must be shown to it. */
  followingSince: number | null;
  shown: Shown[];
  /** Lines it printed that are not workload posts (there should be none). */
  strange: { at: number; line: string }[];
  /** Stream interruptions and errors it reported. */
  notes: { at: number; text: string }[];
}

export type FaultKind = 'kill' | 'pause' | 'machine-down' | 'link-down' | 'clock' | 'power';
export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'pause', 'machine-down', 'link-down', 'clock', 'power'];

export interface FaultEvent {
  kind: FaultKind;
  machine: string;
  at: number;
  /** When it was undone (null: instantaneous, like a SIGKILL or a clock change). */
  healedAt: number | null;
  /** What was hit, e.g. "worker pid 1234" or "clock -3h". */
  target: string;
}

export interface Phases {
  /** The nemesis stopped and healed everything. */
  healed: number;
  /** The cluster was healthy again (every process up). */
  healthy: number;
  /** The writers finished their last post. */
  writersStopped: number;
  /** Every machine's dump was identical (null: not within the deadline). */
  converged: number | null;
  /** The readers were stopped: the end of the record. */
  end: number;
}

export interface History {
  seed: number;
  faultWindowMs: number;
  writers: string[];
  posts: PostOp[];
  readers: ReaderLog[];
  faults: FaultEvent[];
  phases: Phases;
  /** Epoch ms of time 0. */
  startedAt: number;
}

/** A workload post's text and client-chosen id: both name the writer and the number. */
export function postText(writer: string, n: number): string {
  return `${writer} #${n}`;
}

export function postClientId(writer: string, n: number): string {
  return `${writer}-${n}`;
}

export function parsePostText(text: string): { writer: string; n: number } | null {
  const m = /^(\S+) #(\d+)$/.exec(text);
  return m ? { writer: m[1], n: Number(m[2]) } : null;
}

/** A key for one workload post. */
export function postKey(writer: string, n: number): string {
  return `${writer} #${n}`;
}

export function parseAgentRecord(line: string): AgentRecord | null {
  try {
    const r = JSON.parse(line) as AgentRecord;
    return typeof r === 'object' && r !== null && typeof r.k === 'string' ? r : null;
  } catch {
    return null;
  }
}

/**
 * Builds the clients' part of the History from agent records as they arrive.
 * Times are kept as given (epoch ms) and made relative to time 0 on the way out.
 */
export class HistoryRecorder {
  private readonly posts = new Map<string, PostOp>();
  private readonly readers = new Map<string, ReaderLog>();
  /** Every post key each reader has been shown, for waiting on them. */
  readonly shownKeys = new Map<string, Set<string>>();

  take(r: AgentRecord): void {
    switch (r.k) {
      case 'sent':
        this.posts.set(postKey(r.writer, r.n), { writer: r.writer, n: r.n, sentAt: r.at, ackAt: null, origin: null, failures: [], refused: null });
        return;
      case 'ack': {
        const op = this.posts.get(postKey(r.writer, r.n));
        if (op) Object.assign(op, { ackAt: r.at, origin: r.origin });
        return;
      }
      case 'fail':
        this.posts.get(postKey(r.writer, r.n))?.failures.push(r.at);
        return;
      case 'refused': {
        const op = this.posts.get(postKey(r.writer, r.n));
        if (op) op.refused = r.error;
        return;
      }
      case 'following':
        this.reader(r.reader).followingSince = r.at;
        return;
      case 'shown': {
        const log = this.reader(r.reader);
        const author = /^(\S+): /.exec(r.line)?.[1];
        const post = parsePostText(r.line.slice((author?.length ?? 0) + 2));
        if (!author || !post || post.writer !== author) {
          log.strange.push({ at: r.at, line: r.line });
          return;
        }
        log.shown.push({ writer: post.writer, n: post.n, at: r.at });
        this.shownKeys.get(r.reader)!.add(postKey(post.writer, post.n));
        return;
      }
      case 'note':
        this.reader(r.reader).notes.push({ at: r.at, text: r.text });
        return;
      default:
        return;
    }
  }

  /** The posts, with times in ms since `t0`. */
  postOps(t0: number): PostOp[] {
    return [...this.posts.values()].map((op) => ({
      ...op,
      sentAt: op.sentAt - t0,
      ackAt: op.ackAt === null ? null : op.ackAt - t0,
      failures: op.failures.map((at) => at - t0),
    }));
  }

  /** The readers' logs, with times in ms since `t0`. */
  readerLogs(t0: number): ReaderLog[] {
    const rel = <T extends { at: number }>(items: T[]): T[] => items.map((i) => ({ ...i, at: i.at - t0 }));
    return [...this.readers.values()].map((r) => ({
      ...r,
      followingSince: r.followingSince === null ? null : r.followingSince - t0,
      shown: rel(r.shown),
      strange: rel(r.strange),
      notes: rel(r.notes),
    }));
  }

  private reader(name: string): ReaderLog {
    let log = this.readers.get(name);
    if (!log) {
      log = { reader: name, followingSince: null, shown: [], strange: [], notes: [] };
      this.readers.set(name, log);
      this.shownKeys.set(name, new Set());
    }
    return log;
  }
}
