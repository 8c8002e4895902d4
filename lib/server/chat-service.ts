/**
 * The client-facing Chat service of one worker: checks every request, turns it
 * into events for the journal, and streams each applied event to the users in
 * its room's audience. Chat mode is an open Subscribe stream: while a user has
 * one, this worker refuses that user's Join and Leave.
 *
 * The handlers come in groups, one module each, sharing a ChatContext:
 * chat-sessions (Challenge, Connect), chat-writes (Join, Leave, Post),
 * chat-reads (List, Timeline, Poll), chat-subscribe (Subscribe, over chat-streams).
 */
import * as grpc from '@grpc/grpc-js';
import { gateService } from '../common/handler-gate';
import { ftchatProto } from '../common/proto';
import { chatRequestError } from '../core/input-bounds';
import type { Journal } from '../storage/journal';
import type { ChatHandlers } from '../gen/ftchat/Chat';
import type { ChatContext, ChatServiceOptions } from './chat-context';
import { readHandlers } from './chat-reads';
import { sessionHandlers } from './chat-sessions';
import { ChatStreams } from './chat-streams';
import { subscribeHandler } from './chat-subscribe';
import { writeHandlers } from './chat-writes';
import { RoomKeys } from '../storage/room-keys';
import { VerifiedTokens } from '../core/verified-tokens';

const chatDefinition = ftchatProto().ftchat.Chat.service;

/**
 * The Chat service definition, with Subscribe items written already encoded: an
 * event fanned out to 1,000 followers is encoded once, not 1,000 times.
 */
export const chatServiceDefinition: grpc.ServiceDefinition = {
  ...chatDefinition,
  Subscribe: { ...chatDefinition.Subscribe, responseSerialize: (item: Buffer) => item },
};

export function createChatService(journal: Journal, opts: ChatServiceOptions): ChatHandlers {
  const ctx: ChatContext = {
    journal,
    index: journal.index,
    opts,
    roomKeys: new RoomKeys(journal, opts.proved),
    streams: new ChatStreams(journal, opts.limits.maxStreamBacklogBytes, opts.presence),
    tokens: new VerifiedTokens(opts.keys, opts.limits.maxSessionMs),
  };
  // Every request's fields are checked here, in one place, before any handler sees them.
  return gateService<ChatHandlers>({
    ...sessionHandlers(ctx),
    ...writeHandlers(ctx),
    ...readHandlers(ctx),
    Subscribe: subscribeHandler(ctx),
  }, (method, call) => {
    const bad = chatRequestError(method, call.request, opts.limits, Date.now());
    return bad ? { code: grpc.status.INVALID_ARGUMENT, details: bad } : null;
  });
}
