/** Serves an internal service (admin, replication): the cluster secret required, bound to one address. */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from './log';
import { guardService } from './secret';

export async function serveInternal<H extends grpc.UntypedServiceImplementation>(
  definition: grpc.ServiceDefinition,
  handlers: H,
  address: string,
  secret: string,
  log: Logger,
): Promise<grpc.Server> {
  const server = new grpc.Server();
  server.addService(
    definition,
    guardService(handlers, secret, (method, peer) => log.warn('refused internal RPC without the cluster secret', { method, peer })),
  );
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return server;
}
