/** Serves an internal service (admin, replication): the cluster secret required, requests checked, bound to one address. */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from './log';
import { guardService, type RequestCheck } from './secret';

export async function serveInternal<H extends grpc.UntypedServiceImplementation>(
  definition: grpc.ServiceDefinition,
  handlers: H,
  address: string,
  secret: string,
  log: Logger,
  check: RequestCheck,
): Promise<grpc.Server> {
  const server = new grpc.Server();
  server.addService(
    definition,
    guardService(handlers, secret, (method, peer, reason) => log.warn('refused internal RPC', { method, peer, reason }), check),
  );
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return server;
}
