/**
 * The pulling side of replication, one per peer: keeps a Pull stream open to the
 * peer's replicator (LinkStream), stores each batch through the journal (PeerIntake:
 * fsynced before it counts; the journal's doorbell then tells the local workers), and
 * on any break pulls again with the current version vector, so nothing is skipped or
 * doubled. The backlog comes as the peer's stored lines (PullRequest.lines).
 */
import * as grpc from '@grpc/grpc-js';
import { vectorToRecord } from '../core/version-vector';
import { reconnectOptions } from '../core/backoff';
import type { Logger } from '../common/log';
import { secretMetadata } from '../common/secret';
import { KEEPALIVE_OPTIONS } from '../common/keepalive';
import type { EventBatch__Output } from '../gen/ftchat/EventBatch';
import type { ReplicationClient } from '../gen/ftchat/Replication';
import { replicationClientClass } from './batch-decoding';
import type { CatchUpGate } from './catch-up-gate';
import { ENDED, LinkState, PULL_BACKOFF } from './link-state';
import { LinkStream, MAX_BATCH_EVENTS, sizeOf } from './link-stream';
import { PeerIntake, type IntakeOptions } from './peer-intake';

/** A backlog this big is streamed by one link at a time (CatchUpGate). */
const GATED_BACKLOG = 10_000;
/** A link standing back pulls again after this long even if not woken (the leader may be stuck). */
const STAND_BACK_MAX_MS = 30_000;
/** A stream that held back new origins (OriginGate) is pulled again this long after its catch-up, when a retirement may have made room. */
const HELD_BACK_RETRY_MS = 10_000;

/** What a link is: its peer, how to reach it, and what stores its batches (IntakeOptions). */
export interface PeerLinkOptions extends IntakeOptions {
  machine: string;
  address: string;
  secret: string;
  /** This machine's certificate, presented to the peer (mutual TLS). */
  credentials: grpc.ChannelCredentials;
  /** Shared by the machine's links: one big catch-up at a time. */
  gate: CatchUpGate;
  log: Logger;
}

export class PeerLink {
  private readonly client: ReplicationClient;
  private readonly log: Logger;
  private readonly intake: PeerIntake;
  private readonly state = new LinkState();
  private stream: LinkStream | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: PeerLinkOptions) {
    this.log = opts.log.child({ peer: opts.peer });
    this.intake = new PeerIntake(opts, this.log);
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

  /**
   * `pulling`: a stream from the peer delivers (it may still be catching up): the link
   * is up. `live`: we hold everything the peer held when the current stream began (its
   * catch-up is done).
   */
  get status(): { pulling: boolean; live: boolean } {
    return { pulling: this.state.connected, live: this.state.live };
  }

  stop(): void {
    this.state.stopped = true;
    this.opts.gate.release(this.opts.peer);
    if (this.timer) clearTimeout(this.timer);
    this.stream?.call.cancel();
    this.client.close();
  }

  private pull(): void {
    this.timer = null;
    if (this.state.stopped) return;
    const { journal, machine, secret } = this.opts;
    // Retired origins travel as one marker per machine (core/retirements), so the vector stays small however often machines were rebuilt.
    const vector = this.opts.book.table.compact(journal.index.seqs.vector());
    const call = this.client.Pull({ from: machine, vector: { seqs: vectorToRecord(vector) }, lines: true }, secretMetadata(secret));
    const s = new LinkStream(call, this.intake, { live: (st) => this.caughtUp(st), failed: (st, why) => this.retry(st, why) });
    this.stream = s;
    call.on('data', (batch: EventBatch__Output) => this.received(s, batch));
    call.on('error', (err: grpc.ServiceError) => this.retry(s, err.details || err.message));
    call.on('end', () => this.retry(s, ENDED));
  }

  /** Ends the stream and pulls again after the back-off. */
  private retry(s: LinkStream, why: string): void {
    if (s.done) return;
    s.cancel();
    if (this.state.stopped) return;
    const b = this.state.broke(why, s.news, Date.now() - s.startedAt);
    if (b.level) this.log[b.level](b.message, { reason: why });
    this.opts.gate.release(this.opts.peer);
    this.pullSoon(b.delayMs);
  }

  private received(s: LinkStream, batch: EventBatch__Output): void {
    if (s.done) return;
    // Stored whole, it would hold the machine lock and this loop for as long as it takes: a faulty peer's.
    if (sizeOf(batch) > MAX_BATCH_EVENTS) return this.retry(s, `the peer sent a batch of ${sizeOf(batch)} events, over the ${MAX_BATCH_EVENTS.toLocaleString('en-US')} a batch may hold`);
    if (batch.retired.length > 0) this.opts.book.merge(batch.retired, this.opts.peer);
    const backlog = batch.backlog + sizeOf(batch);
    if (!this.state.connected && backlog >= GATED_BACKLOG && !this.opts.gate.lead(this.opts.peer, () => this.pullSoon(0))) {
      s.cancel();
      this.log.info('another peer is sending the backlog; pulling from this one after it', { backlog });
      this.pullSoon(STAND_BACK_MAX_MS);
      return;
    }
    if (!this.state.connected) {
      this.state.up();
      s.catchUp = { startedAt: Date.now(), received: 0, appended: 0, lastProgress: Date.now() };
      this.log.info('pulling from peer', { backlog });
    }
    s.push(batch);
  }

  /**
   * A live batch was stored: the catch-up is over. A stream that held events of new
   * origins back ends, quietly, and pulls again once a retirement may have made room.
   */
  private caughtUp(s: LinkStream): void {
    if (s.catchUp) {
      s.catchUp = null;
      this.opts.gate.release(this.opts.peer);
    }
    if (!s.heldBack) {
      this.state.live = true;
      return;
    }
    s.cancel();
    this.opts.gate.release(this.opts.peer);
    this.state.connected = false;
    this.pullSoon(HELD_BACK_RETRY_MS);
  }

  /** Pulls again after `ms`, or sooner if asked again with less. */
  private pullSoon(ms: number): void {
    if (this.state.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pull(), ms);
  }
}
