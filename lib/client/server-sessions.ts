/**
 * The sessions a connection holds with the servers: each server's greeting (its
 * answer to the identity handshake, with the session token), the greeted servers
 * lost since (a call first tries the session it has there: tokens are the
 * cluster's, not the worker's), and the last greeting, so a switch of server or
 * worker is news.
 */
import type { ConnectResponse__Output } from '../gen/ftchat/ConnectResponse';
import type { ChatChannels } from './chat-channels';
import { handshake, type Identity } from './identity';

export interface Greeting extends ConnectResponse__Output {
  server: string;
}

export class ServerSessions {
  private readonly greeted = new Map<string, Greeting>();
  private readonly lostSince = new Set<string>();
  private last: Greeting | null = null;

  constructor(
    private readonly channels: ChatChannels,
    private readonly identity: Identity,
  ) {}

  /** Whether any server was ever greeted. */
  get any(): boolean {
    return this.last !== null;
  }

  greeting(server: string): Greeting | undefined {
    return this.greeted.get(server);
  }

  /** The session token a call of `method` to `server` carries (none for the handshake's own calls). */
  token(server: string, method: string): string | undefined {
    return method === 'Challenge' || method === 'Connect' ? undefined : this.greeted.get(server)?.token;
  }

  /** Whether the server was greeted and lost since. */
  isLost(server: string): boolean {
    return this.lostSince.has(server);
  }

  /**
   * Greets the server unless it holds a session (one lost since counts only when
   * `reuse`). Returns the new greeting if it lands on another server or worker
   * than the last one did, else null.
   */
  async greet(server: string, deadline: number, reuse: boolean): Promise<Greeting | null> {
    if (this.greeted.has(server) && (reuse || !this.lostSince.has(server))) return null;
    const res = await handshake((method, req) => this.channels.unary(server, method, req, deadline, this.token(server, method)), this.identity);
    const g: Greeting = { ...res, server };
    this.greeted.set(server, g);
    this.lostSince.delete(server);
    const prev = this.last;
    this.last = g;
    return prev && (prev.server !== g.server || prev.machine !== g.machine || prev.worker !== g.worker) ? g : null;
  }

  /** The server answered a call: it is not lost. */
  answered(server: string): void {
    this.lostSince.delete(server);
  }

  /** Marks a server as lost: the next greet() greets it again unless told to reuse its session. */
  lost(server: string): void {
    if (this.greeted.has(server)) this.lostSince.add(server);
  }

  /** Drops a server's session (refused): the next call greets it again. */
  forget(server: string): void {
    this.greeted.delete(server);
    this.lostSince.delete(server);
  }
}
