/** A client of one process's Admin service (a primary or a guardian): mutual TLS, secret attached, short deadlines. */
import { reconnectOptions } from '../core/backoff';
import * as grpc from '@grpc/grpc-js';
import { ftchatProto } from '../common/proto';
import type { ClusterConfig } from '../common/config';
import { secretMetadata } from '../common/secret';
import { machineChannelCredentials } from '../common/transport-security';
import type { AdminClient } from '../gen/ftchat/Admin';
import type { Beat, Beat__Output } from '../gen/ftchat/Beat';
import type { ElectionMessage } from '../gen/ftchat/ElectionMessage';
import type { HeartbeatResponse__Output } from '../gen/ftchat/HeartbeatResponse';
import type { ReviveRequest } from '../gen/ftchat/ReviveRequest';
import type { ReviveResponse__Output } from '../gen/ftchat/ReviveResponse';
import type { StatusRequest } from '../gen/ftchat/StatusRequest';
import type { StatusResponse__Output } from '../gen/ftchat/StatusResponse';

export class AdminPeer {
  private readonly client: AdminClient;

  private readonly secret: string;

  constructor(readonly address: string, config: ClusterConfig) {
    this.secret = config.secret;
    const P = ftchatProto();
    this.client = new P.ftchat.Admin(address, machineChannelCredentials(config), {
      // A peer that restarts must be heard again within a heartbeat or two.
      ...reconnectOptions({ firstMs: 50, capMs: 250 }),
      'grpc.use_local_subchannel_pool': 1,
    });
  }

  /** Who answers on the address: machine, role, pid and term. */
  heartbeat(timeoutMs: number): Promise<HeartbeatResponse__Output> {
    return this.unary((md, opts, cb) => this.client.Heartbeat({}, md, opts, cb), timeoutMs);
  }

  status(timeoutMs: number): Promise<StatusResponse__Output> {
    return this.unary((md, opts, cb) => this.client.Status({}, md, opts, cb), timeoutMs);
  }

  /** Opens the master's watch stream to another machine's primary: write a StatusRequest, get its status back. */
  watchChildren(): grpc.ClientDuplexStream<StatusRequest, StatusResponse__Output> {
    return this.client.WatchChildren(secretMetadata(this.secret));
  }

  /** Asks a primary to revive a child it may have lost; resolves to what it did. */
  revive(req: ReviveRequest, timeoutMs: number): Promise<ReviveResponse__Output> {
    return this.unary((md, opts, cb) => this.client.Revive(req, md, opts, cb), timeoutMs);
  }

  elect(msg: ElectionMessage, timeoutMs: number): Promise<unknown> {
    return this.unary((md, opts, cb) => this.client.Elect(msg, md, opts, cb), timeoutMs);
  }

  /** Opens the liveness stream to a primary. */
  watch(): grpc.ClientDuplexStream<Beat, Beat__Output> {
    return this.client.Watch(secretMetadata(this.secret));
  }

  /** Calls `lost` each time a connection to the address, once made, breaks (its process died, say); never after close(). */
  onLost(lost: () => void): void {
    const channel = this.client.getChannel();
    const watch = (from: grpc.connectivityState): void => {
      if (from === grpc.connectivityState.SHUTDOWN) return;
      channel.watchConnectivityState(from, Infinity, () => {
        const now = channel.getConnectivityState(false);
        if (from === grpc.connectivityState.READY && now !== grpc.connectivityState.SHUTDOWN) lost();
        watch(now);
      });
    };
    watch(channel.getConnectivityState(false));
  }

  close(): void {
    this.client.close();
  }

  private unary<T>(
    send: (md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: T) => void) => void,
    timeoutMs: number,
  ): Promise<T> {
    return new Promise((resolve, reject) =>
      send(secretMetadata(this.secret), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res as T))),
    );
  }
}
