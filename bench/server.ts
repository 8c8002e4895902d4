/**
 * The real server under test: one machine (m1) started by the integration-test
 * launcher (`bin/fbs start` in a temp dir on free loopback ports, its own process
 * group), plus gRPC clients on connections of their own.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as grpc from '@grpc/grpc-js';
import { authedChatClient, handshake, Keyring, type Identity } from '../lib/client/identity';
import { loadIdentity } from '../lib/client/key-file';
import { loadConfig } from '../lib/common/config';
import { ftchatProto } from '../lib/common/proto';
import type { ChatClient } from '../lib/gen/ftchat/Chat';
import { call, fbcConfigHome, RAISED_QUOTAS, serverPids, startCluster, testKeys, type ClusterOptions, type TestCluster } from '../test/helpers/server';
import { onCleanup } from './cleanup';
import { procStat } from '../lib/common/proc-stat';
import { credentialsFor, trustCluster } from '../test/helpers/trust';

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

export async function startServer(workers = 2, options: Pick<ClusterOptions, 'tls'> = {}): Promise<BenchServer> {
  // The benches create thousands of users and post as fast as they can: quotas raised (README).
  const cluster = await startCluster({ machines: ['m1'], workers, quotas: RAISED_QUOTAS, ...options });
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
  return benchServerOf(cluster, 'm1');
}

/** One machine of a running cluster as the server under test. */
export function benchServerOf(cluster: TestCluster, machine: string): BenchServer {
  return {
    address: cluster.address(machine),
    cluster,
    workerPids: () => cluster.workerPids(machine),
    pidsByRole: () => {
      const live = new Set(cluster.pids(machine));
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
export function chatClient(address: string, keys = testKeys): ChatClient {
  return authedChatClient(address, keys, { 'grpc.use_local_subchannel_pool': 1 }, credentialsFor(address));
}

/** What a helper process needs to act for the bench's users: the cluster's CA and the users' key files. */
export interface BenchPerson {
  configFile: string;
  configHome: string;
}

export function benchPerson(server: BenchServer): BenchPerson {
  return { configFile: server.cluster.configFile, configHome: fbcConfigHome() };
}

/** In a helper process: trusts the bench's cluster and returns the keys of the bench's users. */
export function actAs(person: BenchPerson): Keyring {
  trustCluster(loadConfig(person.configFile));
  return new Keyring((user) => loadIdentity(user, undefined, { XDG_CONFIG_HOME: person.configHome }));
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/**
 * startCluster, with everything it starts undone however the bench ends. Until it
 * returns we do not know its config file: our own children (the machines'
 * `fbs start`) name it, so a failed start is found and cleaned up through them.
 */
export async function startTree(machines: string[], workers = 2, options: ClusterOptions = {}): Promise<TestCluster> {
  const configs = new Set<string>();
  const cleanup = (): void => {
    for (const c of [...childConfigs(), ...configs]) {
      for (const pid of serverPids(c)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      if (dirname(c).startsWith(tmpdir())) rmSync(dirname(c), { recursive: true, force: true });
    }
  };
  onCleanup(cleanup);
  try {
    const cluster = await startCluster({ quotas: RAISED_QUOTAS, ...options, machines, workers });
    configs.add(cluster.configFile);
    return cluster;
  } catch (err) {
    // Guardians outlive their primary: kill until none is left.
    for (let i = 0; i < 50 && childConfigs().some((c) => serverPids(c).length > 0); i++) {
      cleanup();
      await sleep(50);
    }
    throw err;
  }
}

/** The --config of our own child processes. */
function childConfigs(): string[] {
  const found = new Set<string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(procStat(entry)?.[1]) !== process.pid) continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const i = argv.indexOf('--config');
      if (i >= 0) found.add(argv[i + 1]);
    } catch {
      /* gone meanwhile */
    }
  }
  return [...found];
}

/** A new connection (its own subchannel) up to a session on it: the key handshake, Challenge then a signed Connect. */
export async function sessionOnNewChannel(address: string, credentials: grpc.ChannelCredentials, id: Identity): Promise<void> {
  const client: ChatClient = new (ftchatProto().ftchat.Chat)(address, credentials, { 'grpc.use_local_subchannel_pool': 1 });
  try {
    await handshake((method, req) => call(client, method, req as never), id);
  } finally {
    client.close();
  }
}
