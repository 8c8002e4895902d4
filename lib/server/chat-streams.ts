/**
 * The chat streams open on one worker, and the live fan-out to them: each applied
 * event is encoded once and written to the streams of the users its room's audience
 * shows it to. Chat mode is an open stream (here or, by presence, on another worker).
 */
import * as grpc from '@grpc/grpc-js';
import { ftchatProto } from '../common/proto';
import { isShown } from '../core/audience';
import type { Membership } from '../core/follow-graph';
import type { ChatEvent } from '../core/event';
import type { Journal } from '../storage/journal';
import type { SubscribeItem } from '../gen/ftchat/SubscribeItem';
import type { SubscribeRequest__Output } from '../gen/ftchat/SubscribeRequest';
import { refuse, Refusal } from './refusal';
import { metrics } from '../common/metrics';

export type Stream = grpc.ServerWritableStream<SubscribeRequest__Output, SubscribeItem>;

export const encodeItem = ftchatProto().ftchat.Chat.service.Subscribe.responseSerialize as (item: SubscribeItem) => Buffer;

/** Chat mode on the machine's other workers (see chat-presence). */
export interface ChatPresence {
  /** Is `user` in chat mode on another worker? */
  elsewhere(user: string): boolean;
  /** `user`'s first chat stream here opened (on), or its last one closed (off). */
  changed(user: string, on: boolean): void;
}

export class ChatStreams {
  private readonly streams = new Map<string, Set<Stream>>();
  /** Live items held back while a stream's backlog is still being read from disk. */
  private readonly backlogging = new Map<Stream, Buffer[]>();
  /** Live items' bytes not yet taken by a stream's connection (held back ones included): past the cap, a reader is too slow. */
  private readonly queuedBytes = new Map<Stream, number>();
  // Who in chat mode here may be shown a room's events (see audience), with the follow
  // graph's word on them: kept for the users with streams only, so fan-out costs the
  // room's readers here, not the whole follow graph.
  private readonly readers = new Map<string, Map<string, Membership | undefined>>();
  private readonly index: Journal['index'];

  constructor(
    journal: Journal,
    private readonly maxBacklogBytes: number,
    private readonly presence: ChatPresence,
  ) {
    this.index = journal.index;
    // another writer's posts to rooms nobody here reads need not be read
    journal.listeners.onApplied((e) => this.fanOut(e), (room) => this.readers.has(room));
  }

  /** How many chat streams `user` has open on this worker. */
  count(user: string): number {
    return this.streams.get(user)?.size ?? 0;
  }

  inChatMode(user: string): boolean {
    return this.count(user) > 0 || this.presence.elsewhere(user);
  }

  /**
   * Registers `call` as one of `user`'s streams, holding its live items back until
   * release(call); it leaves on cancel, close or error. `open` turns false then.
   */
  add(user: string, call: Stream): { readonly open: boolean } {
    this.backlogging.set(call, []);
    let set = this.streams.get(user);
    if (!set) {
      this.streams.set(user, (set = new Set()));
      this.presence.changed(user, true);
      this.watch(user, user, true);
      for (const room of this.index.graph.memberships(user).keys()) this.watch(user, room, true);
    }
    set.add(call);
    metrics.streams.inc();
    const state = { open: true };
    const own = set;
    const drop = (): void => {
      state.open = false;
      this.backlogging.delete(call);
      this.queuedBytes.delete(call);
      if (!own.delete(call)) return;
      metrics.streams.dec();
      if (own.size === 0 && this.streams.get(user) === own) {
        this.streams.delete(user);
        this.presence.changed(user, false);
        for (const [room, users] of this.readers) if (users.has(user)) this.watch(user, room, false);
      }
    };
    call.on('cancelled', drop);
    call.on('close', drop);
    call.on('error', drop);
    return state;
  }

  /** Writes the live items held back while `call`'s backlog was read, if it is still open. */
  release(call: Stream, open: boolean): void {
    const held = this.backlogging.get(call) ?? [];
    this.backlogging.delete(call);
    if (open) for (const item of held) this.write(call, item); // counted when held
  }

  private watch(user: string, room: string, on: boolean): void {
    let users = this.readers.get(room);
    if (on) {
      if (!users) this.readers.set(room, (users = new Map()));
      users.set(user, this.index.graph.membership(user, room));
    } else if (users?.delete(user) && users.size === 0) this.readers.delete(room);
  }

  private fanOut(e: ChatEvent): void {
    if ((e.kind === 'join' || e.kind === 'leave') && this.streams.has(e.author)) this.watch(e.author, e.room, true);
    let encoded: Buffer | undefined; // once per event, not once per follower
    for (const [user, membership] of this.readers.get(e.room) ?? []) {
      if (!isShown(user, e, e.author === user, membership)) continue;
      for (const call of this.streams.get(user) ?? []) this.send(call, (encoded ??= encodeItem({ event: e })));
    }
  }

  private send(call: Stream, item: Buffer): void {
    const queued = (this.queuedBytes.get(call) ?? 0) + item.length;
    if (queued > this.maxBacklogBytes) {
      metrics.streamDrops.inc();
      refuse(call, new Refusal(grpc.status.RESOURCE_EXHAUSTED, 'reader too slow; resume from your cursor'));
      return;
    }
    this.queuedBytes.set(call, queued);
    const held = this.backlogging.get(call);
    if (held) held.push(item);
    else this.write(call, item);
  }

  private write(call: Stream, item: Buffer): void {
    // chatServiceDefinition passes encoded items through; the callback comes once the connection took the bytes
    metrics.deliveries.inc();
    call.write(item as unknown as SubscribeItem, () => {
      const left = (this.queuedBytes.get(call) ?? 0) - item.length;
      if (left > 0) this.queuedBytes.set(call, left);
      else this.queuedBytes.delete(call);
    });
  }
}
