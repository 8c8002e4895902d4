/**
 * Chat mode's feed: the recent history, then every new event as it arrives. The
 * stream is resumed from the session's cursor whenever it breaks (a worker or a
 * machine died), on the same or the next server, so nothing is missed and
 * nothing is printed twice. Posts carry a client-chosen id, so a post retried on
 * another server is stored once.
 */
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Event__Output } from '../gen/ftchat/Event';
import { errorMessage } from '../common/log';
import { backoffMs, crashBackoff } from '../core/backoff';
import { NoServerReachable, type ChatConnection } from './connection';
import { formatEvent, type Clock } from './format';
import { StreamCursor } from './stream-cursor';

export interface FeedOutput {
  /** An event's line. */
  line(text: string): void;
  /** Status of the stream (interrupted, resumed). */
  note(text: string): void;
  error(text: string): void;
  /** The clock for local times on event lines; none (or absent): no times (see formatEvent). */
  clock?(): Clock | undefined;
}

/** Stream endings that resuming cannot fix: the request itself is refused. */
const PERMANENT = new Set([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.PERMISSION_DENIED,
  grpc.status.UNIMPLEMENTED,
  grpc.status.FAILED_PRECONDITION,
]);
const MAX_RETRY_PAUSE_MS = 2_000;
/** A stream ends when its session does; one refused this many times in a row, each at once, is refused for good. */
const MAX_SESSION_RENEWALS = 3;
const AT_ONCE_MS = 1_000;

interface Ending {
  code: grpc.status;
  details: string;
  received: boolean;
  lastedMs: number;
}

export class ChatFeed {
  private cursor = new StreamCursor();
  private stream: grpc.ClientReadableStream<unknown> | null = null;
  private server: string | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly conn: ChatConnection,
    private readonly out: FeedOutput,
  ) {}

  /** Prints the last messages of the followed rooms, oldest first, then follows the stream in the background. */
  async start(): Promise<void> {
    const history = await this.conn.call('Timeline', { user: this.conn.user, limit: 0 }); // 0: the server's history size
    this.cursor = new StreamCursor(history.cursor?.seqs);
    for (const e of history.events) this.show(e, this.cursor.fromElsewhere(e));
    void this.follow();
  }

  /** Posts to the user's room; resolves once the post is stored and printed. */
  async post(text: string): Promise<void> {
    const id = randomBytes(12).toString('base64url'); // [A-Za-z0-9_-]: the server's idempotency key
    const res = await this.conn.call('Post', { user: this.conn.user, id, text });
    if (res.event) this.show(res.event, this.cursor.fromElsewhere(res.event));
  }

  /**
   * Ends the feed. Resolves once the server has seen the stream's cancellation,
   * because while it sees the stream open it refuses Join and Leave.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    const { stream, server } = this;
    if (!stream || !server) return;
    // grpc-js 1.14 still sends a call cancelled in the tick that created it, and
    // never cancels it on the wire: the server would see chat mode until we hang up.
    await new Promise((resolve) => setImmediate(resolve));
    stream.cancel();
    await this.conn.roundTrip(server);
  }

  private async follow(): Promise<void> {
    let failures = 0;
    let renewals = 0;
    while (!this.stopped) {
      let server: string;
      try {
        server = (await this.conn.connect()).server;
      } catch (err) {
        if (this.stopped) return;
        if (!(err instanceof NoServerReachable)) return this.out.error(`error: chat stream: ${errorMessage(err)}`);
        this.out.error(`error: ${err.message}; still trying`);
        continue;
      }
      if (this.stopped) return;
      const end = await this.streamFrom(server);
      if (this.stopped) return;
      if (PERMANENT.has(end.code)) return this.out.error(`error: chat stream: ${end.details}`);
      this.conn.lost(server);
      if (end.code === grpc.status.UNAUTHENTICATED) {
        // The session ended: prove the key again and resume from the cursor, unseen.
        renewals = end.received || end.lastedMs >= AT_ONCE_MS ? 0 : renewals + 1;
        if (renewals < MAX_SESSION_RENEWALS) continue;
        return this.out.error(`error: chat stream: ${end.details}`);
      }
      this.out.note(`note: chat stream interrupted (${end.details}); resuming`);
      failures = end.received ? 0 : failures + 1;
      const pause = backoffMs(failures, crashBackoff(MAX_RETRY_PAUSE_MS));
      if (pause > 0) await this.pause(pause);
    }
  }

  /** Follows one stream until it ends; resolves with how it ended. */
  private streamFrom(server: string): Promise<Ending> {
    return new Promise((resolve) => {
      let received = false;
      const started = Date.now();
      const s = this.conn.subscribe(server, { user: this.conn.user, cursor: { seqs: this.cursor.toRecord() } });
      this.stream = s;
      this.server = server;
      s.on('data', (item: { event: Event__Output | null }) => {
        received = true;
        if (!item.event) return;
        this.conn.observe(item.event.hlc);
        this.show(item.event, this.cursor.fromStream(item.event));
      });
      s.on('error', () => undefined); // reported through 'status'
      s.on('status', (st: grpc.StatusObject) =>
        resolve({ code: st.code, details: st.details || grpc.status[st.code] || 'stream ended', received, lastedMs: Date.now() - started }),
      );
    });
  }

  private show(e: Event__Output, fresh: boolean): void {
    const line = fresh && !this.stopped ? formatEvent(e, this.out.clock?.()) : null;
    if (line !== null) this.out.line(line);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
