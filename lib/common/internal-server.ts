/**
 * Serves an internal service (admin, replication) of `machine`: mutual TLS (a client
 * certificate from the cluster CA), the cluster secret required, requests checked,
 * bound to one address.
 */
import * as grpc from '@grpc/grpc-js';
import type { ClusterConfig } from './config';
import type { Logger } from './log';
import { guardService, type RequestCheck } from './secret';
import { machinePortCredentials } from './transport-security';

export async function serveInternal<H extends grpc.UntypedServiceImplementation>(
  definition: grpc.ServiceDefinition,
  handlers: H,
  address: string,
  config: ClusterConfig,
  machine: string,
  log: Logger,
  check: RequestCheck,
): Promise<grpc.Server> {
  const server = new grpc.Server();
  server.addService(
    definition,
    guardService(handlers, config.secret, (method, peer, reason) => log.warn('refused internal RPC', { method, peer, reason }), check),
  );
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, machinePortCredentials(config, machine), (err) => (err ? reject(err) : resolve())),
  );
  return server;
}
