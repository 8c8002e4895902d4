/**
 * The client's link to the cluster: an ordered list of servers and failover
 * between them (failover.ts). Every call goes to the current server with a short deadline; if
 * that server is unreachable or too slow, the call moves on round robin through
 * the list until one answers or the total time runs out. A session with a server
 * begins with the identity handshake (identity.ts: Challenge, then a signed Connect,
 * which creates the user's room if needed), so a call that fails over first greets
 * its new server; a call refused for its session (expired) greets again, once.
 * A server that was lost and answers again (its worker revived) is first sent the
 * call with the session it issued (tokens are the cluster's, not the worker's):
 * the user's next post needs no handshake (server-sessions.ts). The grpc-js
 * clients, one per server: chat-channels.ts.
 */
import type * as grpc from '@grpc/grpc-js';
import type { FollowRequest } from '../gen/ftchat/FollowRequest';
import type { FollowResponse__Output } from '../gen/ftchat/FollowResponse';
import type { ListRequest } from '../gen/ftchat/ListRequest';
import type { ListResponse__Output } from '../gen/ftchat/ListResponse';
import type { PostRequest } from '../gen/ftchat/PostRequest';
import type { PostResponse__Output } from '../gen/ftchat/PostResponse';
import type { SubscribeItem__Output } from '../gen/ftchat/SubscribeItem';
import type { SubscribeRequest } from '../gen/ftchat/SubscribeRequest';
import type { TimelineRequest } from '../gen/ftchat/TimelineRequest';
import type { TimelineResponse__Output } from '../gen/ftchat/TimelineResponse';
import type { Event__Output } from '../gen/ftchat/Event';
import type { Hlc__Output } from '../gen/ftchat/Hlc';
import { compareHlc, type Hlc } from '../core/hlc';
import { ChatChannels } from './chat-channels';
import { Failover, type ConnectionEvents, type FailoverOptions } from './failover';
import { sessionMetadata, type Identity } from './identity';
import { ServerSessions, type Greeting } from './server-sessions';

export { NoServerReachable, NOT_RUNNING_HINT, ServerRefusal, tlsFailureOf, type ConnectionEvents, type FailoverOptions } from './failover';
export type { Greeting } from './server-sessions';

interface UnaryCalls {
  Join: [FollowRequest, FollowResponse__Output];
  Leave: [FollowRequest, FollowResponse__Output];
  List: [ListRequest, ListResponse__Output];
  Post: [PostRequest, PostResponse__Output];
  Timeline: [TimelineRequest, TimelineResponse__Output];
}

export class ChatConnection {
  private readonly channels: ChatChannels;
  private readonly sessions: ServerSessions;
  private readonly failover: Failover;
  /** The newest event timestamp this session has seen. */
  private seen: Hlc | null = null;

  constructor(
    private readonly identity: Identity,
    readonly servers: string[],
    /** TLS trusting the cluster CA (transport-security's userChannelCredentials). */
    credentials: grpc.ChannelCredentials,
    opts: Partial<FailoverOptions> = {},
    events: ConnectionEvents = {},
  ) {
    if (servers.length === 0) throw new Error('no servers to connect to');
    this.channels = new ChatChannels(credentials);
    this.sessions = new ServerSessions(this.channels, identity);
    this.failover = new Failover(servers, this.sessions, opts, events);
  }

  get user(): string {
    return this.identity.user;
  }

  /** Connects (creating the user's room), failing over as needed; returns the server's greeting. */
  connect(): Promise<Greeting> {
    return this.failover.run(async (server) => this.sessions.greeting(server) as Greeting, false);
  }

  async call<M extends keyof UnaryCalls>(method: M, req: UnaryCalls[M][0]): Promise<UnaryCalls[M][1]> {
    // Writes carry the newest timestamp seen, so the server stamps them after it.
    const sent = method === 'Post' || method === 'Join' || method === 'Leave' ? { ...req, after: this.seen } : req;
    const res = (await this.failover.run((server, deadline) => this.unary(server, method, sent, deadline), true)) as UnaryCalls[M][1];
    const r = res as { event?: Event__Output | null; events?: Event__Output[] };
    if (r.event) this.observe(r.event.hlc);
    for (const e of r.events ?? []) this.observe(e.hlc);
    return res;
  }

  /** Takes in the timestamp of an event the user was shown or stored (see `call`). */
  observe(h: Hlc__Output | null | undefined): void {
    if (h && (!this.seen || compareHlc(h, this.seen) > 0)) this.seen = { wall: Number(h.wall), logical: h.logical };
  }

  /** Opens a stream on a server just returned by connect(); failover is the caller's loop. */
  subscribe(server: string, req: SubscribeRequest): grpc.ClientReadableStream<SubscribeItem__Output> {
    return this.channels.client(server).Subscribe(req, sessionMetadata(this.sessions.greeting(server)?.token ?? ''));
  }

  /**
   * One round trip to a server, ignoring its outcome. Whatever was sent to it
   * before (a stream's cancellation) has been read by the server when this resolves.
   */
  async roundTrip(server: string): Promise<void> {
    await this.unary(server, 'Challenge', { user: this.user }, Date.now() + this.failover.attemptMs).catch(() => undefined);
  }

  /** Marks a server as lost: the next connect() greets it (or the next one) again; a call first tries the session it has. */
  lost(server: string): void {
    this.sessions.lost(server);
  }

  close(): void {
    this.channels.close();
  }

  private unary(server: string, method: string, req: unknown, deadline: number): Promise<unknown> {
    return this.channels.unary(server, method, req, deadline, this.sessions.token(server, method));
  }
}
