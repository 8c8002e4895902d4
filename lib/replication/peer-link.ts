/**
 * The pulling side of replication, one per peer: keeps a Pull stream open to the
 * peer's replicator, appends each batch through the journal (fsynced before it
 * counts; the journal's doorbell then tells the local workers), and on any break
 * pulls again with the current version vector, so nothing is skipped or doubled.
 * While a batch is being appended the stream is paused: that is the back-pressure.
 */
import * as grpc from '@grpc/grpc-js';
import { asEvent, isOrigin, type ChatEvent } from '../core/event';
import { peerEventError, type InputLimits } from '../core/input-bounds';
import { printable } from '../core/usernames';
import { vectorToRecord } from '../core/version-vector';
import { machineOfOrigin, originError } from '../core/origins';
import { OPEN_ORIGINS_REASON, OriginGate } from '../core/origin-admission';
import type { RetirementBook } from './retirement-book';
import { errorMessage, type Logger } from '../common/log';
import { secretMetadata } from '../common/secret';
import type { EventBatch__Output } from '../gen/ftchat/EventBatch';
import type { ReplicationClient } from '../gen/ftchat/Replication';
import type { Journal } from '../storage/journal';
import { replicationClientClass } from './batch-decoding';
import type { CatchUpGate } from './catch-up-gate';
import type { ClockSkewMonitor } from './clock-skew';
import { KEEPALIVE_OPTIONS } from '../common/keepalive';
import { backoffMs, reconnectOptions, type Backoff } from '../core/backoff';

/** Received but not yet appended, beyond which the stream is paused. */
const MAX_PENDING_EVENTS = 10_000;
/** Events appended in one commit, at most (a batch is never split). */
const MAX_MERGED_EVENTS = 2_000;
/** Pulls again after a failure: 100 ms, doubling up to 1 s; a stream that brought news, or lasted the cap, starts over. */
const PULL_BACKOFF: Backoff = { firstMs: 100, capMs: 1_000 };
/** A catch-up at least this large logs its progress, once a second. */
const PROGRESS_FROM_EVENTS = 5_000;
const PROGRESS_EVERY_MS = 1_000;
const MAX_REFUSED_REMEMBERED = 10_000;
/** How grpc-js says the peer's port refused the connection (it is not listening yet). */
const REFUSED = /ECONNREFUSED/;
/** The reason when the peer ended the stream: it stops cleanly. */
const ENDED = 'stream ended';
/** A backlog this big is streamed by one link at a time (CatchUpGate). */
const GATED_BACKLOG = 10_000;
/** A link standing back pulls again after this long even if not woken (the leader may be stuck). */
const STAND_BACK_MAX_MS = 30_000;
/** A stream that held back new origins (OriginGate) is pulled again this long after its catch-up, when a retirement may have made room. */
const HELD_BACK_RETRY_MS = 10_000;

export interface PeerLinkOptions {
  machine: string;
  peer: string;
  address: string;
  secret: string;
  /** This machine's certificate, presented to the peer (mutual TLS). */
  credentials: grpc.ChannelCredentials;
  limits: InputLimits;
  /** The cluster's machines: a peer's event comes from an origin of one of them. */
  machines: ReadonlySet<string>;
  journal: Journal;
  book: RetirementBook;
  /** Origins a link admitted whose events are not applied yet; shared by the machine's links, so that two cannot each fill the same room. */
  opening: Set<string>;
  skew: ClockSkewMonitor;
  /** Shared by the machine's links: one big catch-up at a time. */
  gate: CatchUpGate;
  log: Logger;
}

/** One catch-up: from the stream's first batch to its first live one. */
interface CatchUp {
  startedAt: number;
  received: number;
  appended: number;
  lastProgress: number;
}

/**
 * One Pull stream, from its call to its end. Batches that arrive while an append runs
 * are appended together by the next one: at a steady trickle the sender ships one tiny
 * batch per commit, and one commit (lock + fsyncs) per tiny batch let a queue build
 * behind any slow fsync.
 */
interface PullStream {
  call: grpc.ClientReadableStream<EventBatch__Output>;
  startedAt: number;
  /** A stream that stored news or lasted resets the back-off: a peer whose streams fail
   * or end before either (a gap, an undecodable batch) is pulled ever less often. */
  news: boolean;
  /** Origins with a refused event on this stream. */
  blocked: Set<string>;
  /** Events of new origins were held back for want of room (OriginGate): we do not hold all the peer has. */
  heldBack: boolean;
  done: boolean;
  catchUp: CatchUp | null;
  pending: EventBatch__Output[];
  pendingEvents: number;
  /** An append runs. */
  busy: boolean;
}

export class PeerLink {
  private readonly client: ReplicationClient;
  private readonly log: Logger;
  private call: grpc.ClientReadableStream<EventBatch__Output> | null = null;
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private connected = false;
  /** Until we reach the peer (again), a refused connection means it is starting. */
  private expectRefusals = true;
  private lastFailure = '';
  /** The current stream has delivered its catch-up: we hold what the peer held when it began. */
  private live = false;
  /** Refused events already logged. */
  private readonly refused = new Set<string>();

  constructor(private readonly opts: PeerLinkOptions) {
    this.log = opts.log.child({ peer: opts.peer });
    // Batches decoded one event at a time: a peer's undecodable event is refused alone, not the stream.
    this.client = new (replicationClientClass())(opts.address, opts.credentials, {
      ...reconnectOptions(PULL_BACKOFF),
      'grpc.max_receive_message_length': 64 << 20,
      ...KEEPALIVE_OPTIONS,
    });
  }

  start(): void {
    this.pull();
  }

  /** Whether we hold everything the peer held when the current stream began (its catch-up is done). */
  isLive(): boolean {
    return this.live;
  }

  /** A stream from the peer delivers (it may still be catching up): the link is up. */
  get pulling(): boolean {
    return this.connected;
  }

  stop(): void {
    this.stopped = true;
    this.opts.gate.release(this.opts.peer);
    if (this.timer) clearTimeout(this.timer);
    this.call?.cancel();
    this.client.close();
  }

  private pull(): void {
    this.timer = null;
    if (this.stopped) return;
    const { journal, machine, secret } = this.opts;
    // Retired origins travel as one marker per machine (core/retirements), so the vector stays small however often machines were rebuilt.
    const vector = this.opts.book.table.compact(journal.index.seqs.vector());
    const call = this.client.Pull({ from: machine, vector: { seqs: vectorToRecord(vector) } }, secretMetadata(secret));
    this.call = call;
    const s: PullStream = { call, startedAt: Date.now(), news: false, blocked: new Set(), heldBack: false, done: false, catchUp: null, pending: [], pendingEvents: 0, busy: false };
    call.on('data', (batch: EventBatch__Output) => this.received(s, batch));
    call.on('error', (err: grpc.ServiceError) => this.retry(s, err.details || err.message));
    call.on('end', () => this.retry(s, ENDED));
  }

  /** Ends the stream and pulls again after the back-off. */
  private retry(s: PullStream, why: string): void {
    if (s.done) return;
    s.done = true;
    s.call.cancel();
    if (this.stopped) return;
    // Say so when a working link breaks or the reason changes (e.g. a wrong secret);
    // a peer that stays down is not news every second.
    // A peer ends its streams only when it stops cleanly; it refuses connections until it is
    // back, as one not started yet does (a cluster starts in any order): neither is news.
    // Anything else (a dropped link, TLS, a wrong secret) is a fault to show.
    if (why === ENDED) this.expectRefusals = true;
    if (this.connected) this.log[why === ENDED ? 'info' : 'warn']('lost replication stream; pulling again', { reason: why });
    else if (why !== this.lastFailure) this.log[this.expectRefusals && REFUSED.test(why) ? 'debug' : 'warn']('cannot pull from peer; retrying', { reason: why });
    this.lastFailure = why;
    this.connected = false;
    this.live = false;
    this.opts.gate.release(this.opts.peer);
    if (s.news || Date.now() - s.startedAt >= PULL_BACKOFF.capMs) this.failures = 0;
    this.failures++;
    this.timer = setTimeout(() => this.pull(), backoffMs(this.failures, PULL_BACKOFF));
  }

  private received(s: PullStream, batch: EventBatch__Output): void {
    if (s.done) return;
    if (batch.retired.length > 0) this.opts.book.merge(batch.retired, this.opts.peer);
    if (!this.connected && batch.backlog + batch.events.length >= GATED_BACKLOG && !this.opts.gate.lead(this.opts.peer, () => this.pullSoon(0))) {
      s.done = true;
      s.call.cancel();
      this.log.info('another peer is sending the backlog; pulling from this one after it', { backlog: batch.backlog + batch.events.length });
      this.pullSoon(STAND_BACK_MAX_MS);
      return;
    }
    if (!this.connected) {
      this.connected = true;
      this.expectRefusals = false;
      s.catchUp = { startedAt: Date.now(), received: 0, appended: 0, lastProgress: Date.now() };
      this.log.info('pulling from peer', { backlog: batch.backlog + batch.events.length });
    }
    s.pending.push(batch);
    s.pendingEvents += batch.events.length;
    if (s.pendingEvents >= MAX_PENDING_EVENTS) s.call.pause(); // back-pressure to the sender
    if (!s.busy) void this.drain(s);
  }

  /** Appends the pending batches, merged up to MAX_MERGED_EVENTS per commit, until none are left. */
  private async drain(s: PullStream): Promise<void> {
    s.busy = true;
    while (s.pending.length > 0 && !s.done) {
      const merged = takeMerged(s);
      if (s.pendingEvents < MAX_PENDING_EVENTS) s.call.resume();
      try {
        if ((await this.receive(merged, s)) > 0) s.news = true;
        if (s.catchUp && merged.live) {
          s.catchUp = null;
          this.opts.gate.release(this.opts.peer);
        }
        if (merged.live && s.heldBack) this.pullAgainLater(s);
        else if (merged.live) this.live = true;
      } catch (err) {
        this.retry(s, errorMessage(err));
      }
    }
    s.busy = false;
  }

  /** Ends a stream that held events back, quietly, and pulls again once a retirement may have made room for them. */
  private pullAgainLater(s: PullStream): void {
    s.done = true;
    s.call.cancel();
    this.opts.gate.release(this.opts.peer);
    this.connected = false;
    this.pullSoon(HELD_BACK_RETRY_MS);
  }

  /** Pulls again after `ms`, or sooner if asked again with less. */
  private pullSoon(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pull(), ms);
  }

  /**
   * A peer's events are checked as a client's requests are (peerEventError), and must
   * come from an origin the cluster admits (originError, OriginGate). A bad one
   * blocks its origin on this stream: what came before it is stored, it and the
   * origin's later events are not (so the origin has no gap), and the other origins
   * go on. A pull after any break offers it again, and it is refused again, with a log
   * line the first time.
   */
  private accept(batch: EventBatch__Output, s: PullStream): ChatEvent[] {
    const { blocked } = s;
    const events: ChatEvent[] = [];
    const now = Date.now();
    const { index } = this.opts.journal;
    const { opening } = this.opts;
    const gate = new OriginGate(index.seqs.vector(), [...index.seqs.origins(), ...opening], this.opts.book.table);
    for (const raw of batch.events) {
      const e = asEvent(raw);
      const origin = typeof raw.origin === 'string' ? raw.origin : '';
      if (blocked.has(origin)) continue;
      const bad = e ? (originError(origin, this.opts.machines) ?? peerEventError(e, this.opts.limits, now) ?? gate.admit(origin, e.seq)) : 'malformed event';
      if (!bad) {
        opening.add(origin);
        events.push(e!);
        continue;
      }
      // An origin that is no origin names nothing we could store later, so nothing has a gap.
      if (isOrigin(origin)) blocked.add(origin);
      // Past the cap, one line per machine: a flood of origins is one finding, not thousands.
      const capped = bad.startsWith(OPEN_ORIGINS_REASON);
      s.heldBack ||= capped;
      this.logOnce(capped ? `${machineOfOrigin(origin)}\u0000cap` : `${origin}\u0000${raw.seq}\u0000${bad}`, capped ? 'holding back events of new origins from peer' : 'refused an event from peer; its origin waits here until the peer sends a valid one', {
        reason: bad, origin: printable(origin), seq: raw.seq, id: printable(raw.id),
      });
    }
    return events;
  }

  /** Logs a refusal once per `key`, not at every pull that offers it again. */
  private logOnce(key: string, msg: string, fields: Record<string, unknown>): void {
    if (this.refused.has(key)) return;
    if (this.refused.size >= MAX_REFUSED_REMEMBERED) this.refused.clear();
    this.refused.add(key);
    this.log.error(msg, fields);
  }

  /** Stores a batch's acceptable events; returns how many were new here. */
  private async receive(batch: EventBatch__Output, s: PullStream): Promise<number> {
    const { catchUp } = s;
    const events = this.accept(batch, s);
    const report = this.opts.skew.check(this.opts.peer, events, batch.live ? batch.sent_at_ms : null);
    if (report) this.log.warn('clock offset beyond bound', { ...report });
    let stored;
    try {
      stored = events.length > 0 ? await this.opts.journal.appendStamped(events) : { appended: 0, gapped: 0 };
    } finally {
      for (const e of events) this.opts.opening.delete(e.origin);
    }
    const { appended, gapped } = stored;
    if (gapped > 0) throw new Error(`${gapped} events arrived past a gap in their origin's seqs`);
    if (!catchUp) return appended;
    catchUp.received += events.length;
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
    return appended;
  }
}

/**
 * Takes the next pending batches off the stream's queue, as one batch (the last one's
 * fields, all their events). At most MAX_MERGED_EVENTS (but at least one batch): one
 * commit of a whole catch-up's worth of rooms holds the lock too long.
 */
function takeMerged(s: PullStream): EventBatch__Output {
  let take = 0;
  for (let n = 0; take < s.pending.length && (take === 0 || n + s.pending[take].events.length <= MAX_MERGED_EVENTS); take++) n += s.pending[take].events.length;
  const batches = s.pending.slice(0, take);
  s.pending = s.pending.slice(take);
  s.pendingEvents = s.pending.reduce((n, b) => n + b.events.length, 0);
  const last = batches[batches.length - 1];
  return { ...last, events: batches.length === 1 ? last.events : batches.flatMap((b) => b.events) };
}
