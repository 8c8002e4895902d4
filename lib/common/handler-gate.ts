/**
 * Wraps every handler of a gRPC service behind a gate that may refuse a call before
 * its handler sees it: the cluster secret, a request's bounds. A unary call gets the
 * refusal as its status, a stream as its error.
 */
import type * as grpc from '@grpc/grpc-js';

export type Gate = (method: string, call: { request?: unknown; metadata: grpc.Metadata; getPeer(): string }) => Partial<grpc.StatusObject> | null;

export function gateService<H extends grpc.UntypedServiceImplementation>(handlers: H, gate: Gate): H {
  const gated: grpc.UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(handlers)) {
    gated[method] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback?: grpc.sendUnaryData<unknown>) => {
      const refused = gate(method, call);
      if (!refused) return (handler as (...a: unknown[]) => void)(call, callback);
      if (callback) callback(refused);
      else (call as unknown as NodeJS.EventEmitter).emit('error', refused);
    }) as grpc.UntypedHandleCall;
  }
  return gated as H;
}
