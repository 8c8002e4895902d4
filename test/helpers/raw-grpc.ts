/**
 * gRPC calls with hand-made protobuf bytes: what a client written in another
 * language, or a hostile one, can send (a logical counter at the top of uint32, a
 * uint64 past 2^53, wrong wire types, garbage), which the generated client cannot.
 */
import * as grpc from '@grpc/grpc-js';
import { credentialsFor } from './trust';

/** A field: a number or bigint is a varint, a string or Buffer is length-delimited, a nested list is a message. */
export type Field = [number, number | bigint | string | Buffer | Field[]];

function varint(v: bigint): Buffer {
  const out: number[] = [];
  let n = BigInt.asUintN(64, v);
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) b |= 0x80;
    out.push(b);
  } while (n > 0n);
  return Buffer.from(out);
}

export function encode(fields: Field[]): Buffer {
  const parts: Buffer[] = [];
  for (const [tag, value] of fields) {
    if (typeof value === 'number' || typeof value === 'bigint') parts.push(varint(BigInt(tag << 3)), varint(BigInt(value)));
    else {
      const body = Array.isArray(value) ? encode(value) : Buffer.from(value);
      parts.push(varint(BigInt((tag << 3) | 2)), varint(BigInt(body.length)), body);
    }
  }
  return Buffer.concat(parts);
}

export interface RawAnswer {
  code: grpc.status;
  details: string;
  bytes: Buffer | null;
}

/** One unary call of `path` (e.g. '/ftchat.Chat/Post') with `body` as the request's bytes. */
export function rawUnary(address: string, path: string, body: Buffer, metadata = new grpc.Metadata(), timeoutMs = 10_000): Promise<RawAnswer> {
  const client = new grpc.Client(address, credentialsFor(address));
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, metadata, { deadline: Date.now() + timeoutMs }, (err, bytes) => {
      client.close();
      resolve(err ? { code: err.code, details: err.details, bytes: null } : { code: grpc.status.OK, details: '', bytes: bytes ?? null });
    });
  });
}
