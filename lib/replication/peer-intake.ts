/**
 * What a peer link does with a batch: checks each event as the peer's input, and
 * stores the acceptable ones through the journal (fsynced before it counts). A batch
 * of stored lines (EventBatch.lines) is checked line by line (core/stored-line: one
 * parse each) and its lines are appended as they came, not encoded again.
 */
import { asEvent, isOrigin, type ChatEvent } from '../core/event';
import { peerEventError, type InputLimits } from '../core/input-bounds';
import { printable } from '../core/usernames';
import { machineOfOrigin, originError } from '../core/origins';
import { OPEN_ORIGINS_REASON, OriginGate } from '../core/origin-admission';
import { maxLineBytes, storedLineEvent } from '../core/stored-line';
import type { Logger } from '../common/log';
import type { EventBatch__Output } from '../gen/ftchat/EventBatch';
import type { Journal } from '../storage/journal';
import type { RetirementBook } from './retirement-book';
import type { ClockSkewMonitor } from './clock-skew';

/** A catch-up at least this large logs its progress, once a second. */
const PROGRESS_FROM_EVENTS = 5_000;
const PROGRESS_EVERY_MS = 1_000;
const MAX_REFUSED_REMEMBERED = 10_000;

export interface IntakeOptions {
  peer: string;
  limits: InputLimits;
  /** The cluster's machines: a peer's event comes from an origin of one of them. */
  machines: ReadonlySet<string>;
  journal: Journal;
  book: RetirementBook;
  /** Origins a link admitted whose events are not applied yet; shared by the machine's links, so that two cannot each fill the same room. */
  opening: Set<string>;
  skew: ClockSkewMonitor;
}

/** One catch-up: from the stream's first batch to its first live one. */
export interface CatchUp {
  startedAt: number;
  received: number;
  appended: number;
  lastProgress: number;
}

/** What a stream keeps about its batches' checks. */
export interface IntakeStream {
  /** Origins with a refused event on this stream. */
  blocked: Set<string>;
  /** Events of new origins were held back for want of room (OriginGate): we do not hold all the peer has. */
  heldBack: boolean;
  catchUp: CatchUp | null;
}

/** What a refusal names: the event's origin, seq and id as the peer sent them. */
interface Named {
  origin: unknown;
  seq: unknown;
  id: unknown;
}

export class PeerIntake {
  /** Refused events already logged. */
  private readonly refused = new Set<string>();
  /** A shipped line longer than this is refused. */
  private readonly maxLineBytes: number;

  constructor(private readonly opts: IntakeOptions, private readonly log: Logger) {
    this.maxLineBytes = maxLineBytes(opts.limits.maxPostChars);
  }

  /** Stores a batch's acceptable events; returns how many were new here. */
  async store(batch: EventBatch__Output, s: IntakeStream): Promise<number> {
    const { events, shipped } = this.accept(batch, s);
    const report = this.opts.skew.check(this.opts.peer, events, batch.live ? batch.sent_at_ms : null);
    if (report) this.log.warn('clock offset beyond bound', { ...report });
    let stored;
    try {
      stored = events.length > 0 ? await this.opts.journal.appendStamped(events, shipped) : { appended: 0, gapped: 0 };
    } finally {
      for (const e of events) this.opts.opening.delete(e.origin);
    }
    const { appended, gapped } = stored;
    if (gapped > 0) throw new Error(`${gapped} events arrived past a gap in their origin's seqs`);
    if (s.catchUp) this.progress(s.catchUp, batch, events.length, appended);
    return appended;
  }

  /**
   * A peer's events are checked as a client's requests are (peerEventError), and must
   * come from an origin the cluster admits (originError, OriginGate); its stored lines
   * also as lines (storedLineEvent). A bad one blocks its origin on this stream: what
   * came before it is stored, it and the origin's later events are not (so the origin
   * has no gap), and the other origins go on. A pull after any break offers it again,
   * and it is refused again, with a log line the first time.
   */
  private accept(batch: EventBatch__Output, s: IntakeStream): { events: ChatEvent[]; shipped: Map<ChatEvent, Buffer> } {
    const events: ChatEvent[] = [];
    const shipped = new Map<ChatEvent, Buffer>();
    const { index } = this.opts.journal;
    const gate = new OriginGate(index.seqs.vector(), [...index.seqs.origins(), ...this.opts.opening], this.opts.book.table);
    const now = Date.now();
    for (const raw of batch.events) {
      const e = asEvent(raw) ?? 'malformed event';
      if (this.check(e, raw, s, gate, now)) events.push(e as ChatEvent);
    }
    for (const line of batch.lines) {
      const e = storedLineEvent(line, this.maxLineBytes);
      if (!this.check(e, typeof e === 'string' ? namedIn(line) : e, s, gate, now)) continue;
      events.push(e as ChatEvent);
      shipped.set(e as ChatEvent, line);
    }
    return { events, shipped };
  }

  /** Whether an event (or why it is none) may be stored; a refused one blocks its origin on this stream. */
  private check(e: ChatEvent | string, named: Named, s: IntakeStream, gate: OriginGate, now: number): boolean {
    const origin = typeof named.origin === 'string' ? named.origin : '';
    if (s.blocked.has(origin)) return false;
    const bad = typeof e === 'string' ? e : (originError(origin, this.opts.machines) ?? peerEventError(e, this.opts.limits, now) ?? gate.admit(origin, e.seq));
    if (!bad) {
      this.opts.opening.add(origin);
      return true;
    }
    // An origin that is no origin names nothing we could store later, so nothing has a gap.
    if (isOrigin(origin)) s.blocked.add(origin);
    // Past the cap, one line per machine: a flood of origins is one finding, not thousands.
    const capped = bad.startsWith(OPEN_ORIGINS_REASON);
    s.heldBack ||= capped;
    this.logOnce(capped ? `${machineOfOrigin(origin)}\u0000cap` : `${origin}\u0000${String(named.seq)}\u0000${bad}`, capped ? 'holding back events of new origins from peer' : 'refused an event from peer; its origin waits here until the peer sends a valid one', {
      reason: bad, origin: printable(origin), seq: named.seq, id: printable(typeof named.id === 'string' ? named.id : ''),
    });
    return false;
  }

  /** Logs a refusal once per `key`, not at every pull that offers it again. */
  private logOnce(key: string, msg: string, fields: Record<string, unknown>): void {
    if (this.refused.has(key)) return;
    if (this.refused.size >= MAX_REFUSED_REMEMBERED) this.refused.clear();
    this.refused.add(key);
    this.log.error(msg, fields);
  }

  private progress(catchUp: CatchUp, batch: EventBatch__Output, received: number, appended: number): void {
    catchUp.received += received;
    catchUp.appended += appended;
    const now = Date.now();
    const elapsed = Math.max(now - catchUp.startedAt, 1);
    const rate = Math.round((catchUp.received * 1000) / elapsed);
    if (batch.live) {
      this.log.info('caught up with peer', { received: catchUp.received, appended: catchUp.appended, ms: elapsed, eventsPerSec: rate });
    } else if (catchUp.received + batch.backlog >= PROGRESS_FROM_EVENTS && now - catchUp.lastProgress >= PROGRESS_EVERY_MS) {
      catchUp.lastProgress = now;
      this.log.info('catching up from peer', { received: catchUp.received, remaining: batch.backlog, eventsPerSec: rate });
    }
  }
}

/** The origin, seq and id a refused line names where an event's line has them (for its log line, and to block its origin). */
function namedIn(line: Buffer): Named {
  const m = /^\{"id":"([^"\\]{0,200})","origin":"([^"\\]{0,200})","seq":(\d{1,16}),/.exec(line.subarray(0, 512).toString('utf8'));
  return m ? { id: m[1], origin: m[2], seq: Number(m[3]) } : { id: '', origin: '', seq: 0 };
}
