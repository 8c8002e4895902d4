/**
 * The credentials a test's own clients use to reach the clusters it started: a user's
 * (the cluster CA) for client ports, a machine's (mutual TLS) for admin, guardian and
 * peer ports. Found by port, which is unique among a test process's clusters, so
 * helpers that take only an address (ownConnection, rawUnary) need no config.
 */
import * as grpc from '@grpc/grpc-js';
import type { ClusterConfig } from '../../lib/common/config';
import { machineChannelCredentials, userChannelCredentials } from '../../lib/common/transport-security';

const byPort = new Map<number, grpc.ChannelCredentials>();
const configByClientPort = new Map<number, string>();

export function trustCluster(config: ClusterConfig): void {
  const user = userChannelCredentials(config);
  const machine = machineChannelCredentials(config, Object.keys(config.machines)[0]);
  for (const m of Object.values(config.machines)) {
    byPort.set(m.port, user);
    configByClientPort.set(m.port, config.file);
    byPort.set(m.peerPort, machine);
    for (let p = m.adminPort; p <= m.adminPort + config.guardians; p++) byPort.set(p, machine);
  }
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

export function credentialsFor(address: string): grpc.ChannelCredentials {
  const c = byPort.get(portOf(address));
  if (!c) throw new Error(`no cluster this test started serves ${address}`);
  return c;
}

/** The config of the cluster serving `address` as a client port (fbc finds the CA through it), if this test started one. */
export function configFileFor(address: string): string | undefined {
  return configByClientPort.get(portOf(address));
}
