/**
 * A peer's EventBatch decoded one event at a time. grpc-js decodes a response
 * whole, so one undecodable event (a faulty peer's) failed the stream ('Response
 * message parsing error') at the same batch on every pull: the batch's other events
 * and everything behind it never arrived from that peer, and which events shared
 * the bad batch depends on the puller's vector, so machines kept different sets.
 * Here an undecodable event or retirement becomes an empty one, which the link
 * refuses with one line like any malformed input, and the rest go on. A batch whose
 * own framing is broken still fails the stream. The Reader is protobufjs's, the
 * library proto-loader decodes with.
 */
import * as grpc from '@grpc/grpc-js';
import { Reader } from 'protobufjs';
import { ftchatProto, messageDecoder } from '../common/proto';
import type { EventBatch__Output } from '../gen/ftchat/EventBatch';
import type { ReplicationClient } from '../gen/ftchat/Replication';

/** EventBatch's repeated message fields (protos/ftchat.proto) and protobuf's length-delimited wire type. */
const EVENTS_FIELD = 1;
const RETIRED_FIELD = 5;
const LENGTH_DELIMITED = 2;

type ReplicationClientClass = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions) => ReplicationClient;
let tolerantClient: ReplicationClientClass | null = null;

/** The Replication client whose Pull batches are decoded by decodeBatch. */
export function replicationClientClass(): ReplicationClientClass {
  if (!tolerantClient) {
    const service = ftchatProto().ftchat.Replication.service;
    const definition = { ...service, Pull: { ...service.Pull, responseDeserialize: decodeBatch } };
    tolerantClient = grpc.makeGenericClientConstructor(definition, 'Replication') as unknown as ReplicationClientClass;
  }
  return tolerantClient;
}

/** Decodes a Pull batch; an event or retirement that does not decode comes out empty (every field its default). */
export function decodeBatch(bytes: Buffer): EventBatch__Output {
  const P = ftchatProto().ftchat;
  const whole = P.Replication.service.Pull.responseDeserialize;
  try {
    return whole(bytes);
  } catch {
    // one message at a time, below
  }
  const events: Buffer[] = [];
  const retired: Buffer[] = [];
  const rest: Uint8Array[] = [];
  const reader = Reader.create(bytes);
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (tag % 8 === LENGTH_DELIMITED && (field === EVENTS_FIELD || field === RETIRED_FIELD)) {
      (field === EVENTS_FIELD ? events : retired).push(Buffer.from(reader.bytes()));
    } else {
      reader.skipType(tag % 8);
      rest.push(bytes.subarray(start, reader.pos));
    }
  }
  return {
    ...whole(Buffer.concat(rest)),
    events: events.map((b) => orEmpty(messageDecoder<EventBatch__Output['events'][number]>('Event'), b)),
    retired: retired.map((b) => orEmpty(messageDecoder<EventBatch__Output['retired'][number]>('Retirement'), b)),
  };
}

function orEmpty<T>(deserialize: (b: Buffer) => T, bytes: Buffer): T {
  try {
    return deserialize(bytes);
  } catch {
    return deserialize(Buffer.alloc(0));
  }
}
