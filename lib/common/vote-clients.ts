/**
 * A machine's channels to every machine's acceptor (the replicators' peer ports,
 * mutual TLS and the cluster secret, like Replication.Pull), for the proposer of a
 * name (a worker) and for an acceptor learning its peers' records (a replicator).
 * Its own machine's acceptor is called the same way.
 */
import type { ReplicationClient } from '../gen/ftchat/Replication';
import type { VoteReply__Output } from '../gen/ftchat/VoteReply';
import type { VoteRecord__Output } from '../gen/ftchat/VoteRecord';
import type { VoteRecords__Output } from '../gen/ftchat/VoteRecords';
import type { VoteRequest } from '../gen/ftchat/VoteRequest';
import { peerAddress, type ClusterConfig } from './config';
import { ftchatProto } from './proto';
import { secretMetadata } from './secret';
import { machineChannelCredentials } from './transport-security';

/** A peer that was down comes back within this (grpc-js backs off up to 2 minutes by default). */
const RECONNECT_MAX_MS = 1_000;

export class VoteClients {
  private readonly clients = new Map<string, ReplicationClient>();

  constructor(private readonly config: ClusterConfig, private readonly machine: string) {
    const P = ftchatProto();
    for (const m of Object.keys(config.machines)) {
      this.clients.set(m, new P.ftchat.Replication(peerAddress(config, m), machineChannelCredentials(config, machine), {
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.min_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': RECONNECT_MAX_MS,
      }));
    }
  }

  /** The cluster's machines: the acceptors. */
  get machines(): string[] {
    return [...this.clients.keys()];
  }

  vote(peer: string, req: VoteRequest, timeoutMs: number): Promise<VoteReply__Output> {
    const client = this.client(peer);
    return new Promise((resolve, reject) => {
      client.Vote(req, secretMetadata(this.config.secret), { deadline: Date.now() + timeoutMs }, (err, reply) => (err || !reply ? reject(err ?? new Error('no reply')) : resolve(reply)));
    });
  }

  /** Every record `peer`'s acceptor holds, and whether it votes. */
  records(peer: string, timeoutMs: number): Promise<{ records: VoteRecord__Output[]; ready: boolean }> {
    const call = this.client(peer).VoteRecords({ from: this.machine }, secretMetadata(this.config.secret), { deadline: Date.now() + timeoutMs });
    const records: VoteRecord__Output[] = [];
    let ready = false;
    return new Promise((resolve, reject) => {
      call.on('data', (batch: VoteRecords__Output) => {
        records.push(...batch.records);
        ready = batch.ready;
      });
      call.on('error', reject);
      call.on('end', () => resolve({ records, ready }));
    });
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
  }

  private client(peer: string): ReplicationClient {
    const c = this.clients.get(peer);
    if (!c) throw new Error(`no machine ${peer} in the cluster`);
    return c;
  }
}

