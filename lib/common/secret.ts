/**
 * The cluster secret that every internal RPC (replication, heartbeats, status,
 * election) must carry in metadata. A service wrapped by `guardService` refuses
 * any call without it before the handler sees the request.
 */
import { timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';

export const SECRET_HEADER = 'x-ftchat-secret';

export function secretMetadata(secret: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(SECRET_HEADER, secret);
  return md;
}

export function carriesSecret(metadata: grpc.Metadata, secret: string): boolean {
  const given = Buffer.from(String(metadata.get(SECRET_HEADER)[0] ?? ''));
  const want = Buffer.from(secret);
  return given.length === want.length && timingSafeEqual(given, want);
}

const REFUSED = { code: grpc.status.UNAUTHENTICATED, details: 'internal RPC refused: missing or wrong cluster secret' };

/** Wraps every handler of a service so calls without the secret are refused (and reported). */
export function guardService<H extends grpc.UntypedServiceImplementation>(
  handlers: H,
  secret: string,
  onRefused: (method: string, peer: string) => void,
): H {
  const guarded: grpc.UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(handlers)) {
    guarded[method] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback?: grpc.sendUnaryData<unknown>) => {
      if (carriesSecret(call.metadata, secret)) return (handler as (...a: unknown[]) => void)(call, callback);
      onRefused(method, call.getPeer());
      if (callback) callback(REFUSED);
      else (call as unknown as NodeJS.EventEmitter).emit('error', REFUSED);
    }) as grpc.UntypedHandleCall;
  }
  return guarded as H;
}
