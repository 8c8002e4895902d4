/**
 * The real server under test: one machine (m1) started by the integration-test
 * launcher (`bin/fbs start` in a temp dir on free loopback ports, its own process
 * group), plus gRPC clients on connections of their own.
 */
import { rmSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ftchatProto } from '../lib/common/proto';
import type { ChatClient } from '../lib/gen/ftchat/Chat';
import { serverPids, startCluster, type TestCluster } from '../test/helpers/server';
import { onCleanup } from './cleanup';

export { call } from '../test/helpers/server';

export interface BenchServer {
  address: string;
  cluster: TestCluster;
  /** Pids of the serving worker processes. */
  workerPids(): number[];
  /** Live server processes by role (worker, replicator, master, replica...), from their log lines. */
  pidsByRole(): Record<string, number[]>;
  stop(): Promise<void>;
}

export async function startServer(workers = 2): Promise<BenchServer> {
  const cluster = await startCluster({ machines: ['m1'], workers });
  // A signal or crash must not leave the tree or its temp dir behind.
  onCleanup(() => {
    for (const pid of serverPids(cluster.configFile)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    rmSync(cluster.dir, { recursive: true, force: true });
  });
  return {
    address: cluster.address('m1'),
    cluster,
    workerPids: () => cluster.workerPids('m1'),
    pidsByRole: () => {
      const live = new Set(cluster.pids('m1'));
      const byRole: Record<string, number[]> = {};
      for (const l of cluster.logs) {
        if (!live.delete(l.pid)) continue; // not live, or already placed
        (byRole[l.role] ??= []).push(l.pid);
      }
      return byRole;
    },
    stop: () => cluster.teardown(),
  };
}

/**
 * A Chat client on a connection of its own (grpc-js would otherwise share one
 * connection per target), as a separate user process would have; node:cluster
 * hands each new connection to the next worker.
 */
export function chatClient(address: string): ChatClient {
  const P = ftchatProto();
  return new P.ftchat.Chat(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
