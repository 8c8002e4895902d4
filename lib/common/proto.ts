/** Loads protos/ftchat.proto at run time with the same options the type generator used. */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../gen/ftchat';
import { REPO_ROOT } from './paths';

export const PROTO_FILE = join(REPO_ROOT, 'protos', 'ftchat.proto');

let cached: ProtoGrpcType | null = null;

export function ftchatProto(): ProtoGrpcType {
  if (!cached) {
    const def = protoLoader.loadSync(PROTO_FILE, { keepCase: true, longs: Number, defaults: true, arrays: true, objects: true });
    cached = grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType;
  }
  return cached;
}

/** Trailing metadata of a RESOURCE_EXHAUSTED from a quota: the ms to wait before retrying. */
export const RETRY_AFTER_KEY = 'retry-after-ms';
