/**
 * The cluster secret that every internal RPC (replication, heartbeats, status,
 * election) must carry in metadata. A service wrapped by `guardService` refuses
 * any call without it, or out of bounds, before the handler sees the request.
 */
import { timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { gateService } from './handler-gate';

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

/** Null, or why a request is refused (one line). */
export type RequestCheck = (method: string, request: unknown) => string | null;

const REFUSED = { code: grpc.status.UNAUTHENTICATED, details: 'internal RPC refused: missing or wrong cluster secret' };

/**
 * Wraps every handler of a service so calls without the secret are refused (and
 * reported), and then calls whose request `check` refuses (e.g. internalRequestError).
 */
export function guardService<H extends grpc.UntypedServiceImplementation>(
  handlers: H,
  secret: string,
  onRefused: (method: string, peer: string, reason: string) => void,
  check: RequestCheck = () => null,
): H {
  return gateService(handlers, (method, call) => {
    if (!carriesSecret(call.metadata, secret)) {
      onRefused(method, call.getPeer(), REFUSED.details);
      return REFUSED;
    }
    const bad = check(method, call.request);
    if (!bad) return null;
    onRefused(method, call.getPeer(), bad);
    return { code: grpc.status.INVALID_ARGUMENT, details: bad };
  });
}
