/**
 * The gRPC services of protos/ftchat.proto, with the options the type generator used
 * (keepCase, longs as Number, defaults, arrays, objects).
 *
 * Built from lib/gen/ftchat.json (protobufjs's JSON form of the .proto, written by
 * `npm run gen`) with protobufjs/light, rather than by @grpc/proto-loader at run time:
 * every server process loads this on its start, and proto-loader's .proto parser and
 * the reflection descriptors it makes for every message were a third of a worker's
 * module CPU (bench/master-kill.ts). Serializers are proto-loader's: fromObject, encode;
 * decode, toObject. Without the JSON (a build that skipped gen) the .proto is parsed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Root, type Method, type Service, type Type } from 'protobufjs/light';
import type { ProtoGrpcType } from '../gen/ftchat';
import { REPO_ROOT } from './paths';

export const PROTO_FILE = join(REPO_ROOT, 'protos', 'ftchat.proto');
export const PROTO_JSON_FILE = join(REPO_ROOT, 'lib', 'gen', 'ftchat.json');

const SERVICES = ['Chat', 'Admin', 'Replication'] as const;

/** The services only: no message type definitions are loaded. */
export interface FtchatServices {
  ftchat: Pick<ProtoGrpcType['ftchat'], (typeof SERVICES)[number]>;
}

const TO_OBJECT = { longs: Number, defaults: true, arrays: true, objects: true };

let cached: FtchatServices | null = null;
let cachedRoot: Root | null = null;

export function ftchatProto(): FtchatServices {
  if (!cached) {
    const root = (cachedRoot ??= protoRoot());
    const def: grpc.GrpcObject = {};
    const pkg: Record<string, grpc.ServiceDefinition> = {};
    for (const name of SERVICES) pkg[`ftchat.${name}`] = serviceDefinition(root.lookupService(`ftchat.${name}`), `ftchat.${name}`);
    Object.assign(def, grpc.loadPackageDefinition(pkg));
    cached = def as unknown as FtchatServices;
  }
  return cached;
}

function protoRoot(): Root {
  let root: Root;
  if (existsSync(PROTO_JSON_FILE)) root = Root.fromJSON(JSON.parse(readFileSync(PROTO_JSON_FILE, 'utf8')));
  else root = new (require('protobufjs') as typeof import('protobufjs')).Root().loadSync(PROTO_FILE, { keepCase: true }) as unknown as Root;
  root.resolveAll();
  return root;
}

function serviceDefinition(service: Service, name: string): grpc.ServiceDefinition {
  return Object.fromEntries(service.methodsArray.map((m: Method) => {
    const req = m.resolvedRequestType as Type;
    const res = m.resolvedResponseType as Type;
    return [m.name, {
      path: `/${name}/${m.name}`,
      requestStream: !!m.requestStream,
      responseStream: !!m.responseStream,
      requestSerialize: serializer(req),
      requestDeserialize: deserializer(req),
      responseSerialize: serializer(res),
      responseDeserialize: deserializer(res),
      originalName: m.name.charAt(0).toLowerCase() + m.name.slice(1),
    }];
  }));
}

/** One message type's decoder, with the services' options (e.g. a Pull batch's events one by one). */
export function messageDecoder<T>(name: string): (bytes: Buffer) => T {
  return deserializer((cachedRoot ??= protoRoot()).lookupType(`ftchat.${name}`)) as (bytes: Buffer) => T;
}

const serializer = (t: Type) => (value: object): Buffer => Buffer.from(t.encode(t.fromObject(value)).finish());
const deserializer = (t: Type) => (bytes: Buffer): object => t.toObject(t.decode(bytes), TO_OBJECT);

/** Trailing metadata of a RESOURCE_EXHAUSTED from a quota: the ms to wait before retrying. */
export const RETRY_AFTER_KEY = 'retry-after-ms';
