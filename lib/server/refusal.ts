/**
 * A request this worker refuses with a gRPC status, and how a refusal reaches the
 * caller: a unary call as its status, a stream as its error.
 */
import * as grpc from '@grpc/grpc-js';
import { errorMessage, type Logger } from '../common/log';
import { StorageError } from '../storage/journal';
import { QuotaExceeded } from './quotas';

export class Refusal extends Error {
  constructor(readonly code: grpc.status, message: string) {
    super(message);
  }
}

/** Ends a stream with the refusal's status. */
export function refuse(call: NodeJS.EventEmitter, err: Refusal): void {
  call.emit('error', { code: err.code, details: err.message });
}

/** Wraps an async handler: a Refusal becomes its status, anything else a logged INTERNAL or UNAVAILABLE. */
export function unary<Req, Res>(log: Logger, fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request, call).then(
      (res) => callback(null, res),
      (err: unknown) => {
        if (err instanceof QuotaExceeded) return callback(err.status());
        if (err instanceof Refusal) return callback({ code: err.code, details: err.message });
        if (err instanceof StorageError) return callback({ code: grpc.status.UNAVAILABLE, details: err.message });
        log.error('request failed', { error: errorMessage(err) });
        callback({ code: grpc.status.INTERNAL, details: 'internal error' });
      },
    );
  };
}
