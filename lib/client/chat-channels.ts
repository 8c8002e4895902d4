/**
 * A connection's grpc-js clients, one per server, made on first use with the
 * cluster's TLS and fast reconnects; a unary call on one, as a promise.
 */
import * as grpc from '@grpc/grpc-js';
import { ftchatProto } from '../common/proto';
import { KEEPALIVE_OPTIONS } from '../common/keepalive';
import { reconnectOptions } from '../core/backoff';
import type { ChatClient } from '../gen/ftchat/Chat';
import { sessionMetadata } from './identity';

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // Reconnect fast after a server process is revived.
  ...reconnectOptions({ firstMs: 100, capMs: 300 }),
  ...KEEPALIVE_OPTIONS, // notice a silently dead connection under an open stream
};

type UnaryFn = (req: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: unknown) => void) => void;

export class ChatChannels {
  private readonly clients = new Map<string, ChatClient>();
  private closed = false;

  /** `credentials`: TLS trusting the cluster CA (transport-security's userChannelCredentials). */
  constructor(private readonly credentials: grpc.ChannelCredentials) {}

  client(server: string): ChatClient {
    if (this.closed) throw new Error('connection closed');
    let c = this.clients.get(server);
    if (!c) {
      const P = ftchatProto();
      c = new P.ftchat.Chat(server, this.credentials, CHANNEL_OPTIONS);
      this.clients.set(server, c);
    }
    return c;
  }

  /** One unary call, with the session `token` if any. */
  unary(server: string, method: string, req: unknown, deadline: number, token: string | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const client = this.client(server);
      const fn = client[method as keyof ChatClient] as unknown as UnaryFn;
      fn.call(client, req, token ? sessionMetadata(token) : new grpc.Metadata(), { deadline }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  close(): void {
    this.closed = true;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
