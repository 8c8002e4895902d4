/**
 * One user's session: connect, then run typed lines one at a time, strictly in
 * order (a piped script behaves like a typist who waits for each answer), until
 * the user disconnects or the input ends. Errors are one line; the session goes on.
 */
import type * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../common/log';
import { ChatFeed } from './chat-feed';
import { ChatConnection, ServerRefusal } from './connection';
import { helpLines, parseLine, type Command, type Mode } from './commands';
import { formatEvent, formatRooms, type Clock } from './format';
import type { Identity } from './identity';
import { Terminal, type TerminalIo } from './terminal';

export interface ClientOptions extends TerminalIo {
  /** The user and its key (key-file.ts). */
  identity: Identity;
  servers: string[];
  /** TLS trusting the cluster CA, from the config. */
  credentials: grpc.ChannelCredentials;
  /** Told when the servers refuse the user before any session began (e.g. the name is another key's). */
  onRefused?: () => void;
}

/** Nothing listens on any server for this long: fbc says so instead of waiting out its failover budget. */
const REFUSED_FOR_MS = 750;

/** Runs the client until the user quits or the input ends; resolves with the exit code. */
export function runClient(opts: ClientOptions): Promise<number> {
  return new Session(opts).run();
}

class Session {
  private readonly term: Terminal;
  private readonly conn: ChatConnection;
  private mode: Mode = 'command';
  private feed: ChatFeed | null = null;
  /** Where the last `list` stopped, for `more`. */
  private nextPage: { prefix: string; token: string } | null = null;
  private readonly queue: string[] = [];
  private connected = false;
  private busy = false;
  private eof = false;
  private finished = false;
  private resolveDone: (code: number) => void = () => undefined;

  constructor(private readonly opts: ClientOptions) {
    this.term = new Terminal(opts);
    this.conn = new ChatConnection(
      opts.identity,
      opts.servers,
      opts.credentials,
      { refusedForMs: REFUSED_FOR_MS },
      {
        onSwitch: (g) => this.error(`note: reconnected to ${g.machine}`),
        onThrottled: (why) => this.error(`note: the server holds us back (${why}); retrying by itself`),
        onRetrying: (servers) => this.connecting(servers),
      },
    );
  }

  run(): Promise<number> {
    const done = new Promise<number>((resolve) => (this.resolveDone = resolve));
    // Lines typed or piped while connecting wait in the queue.
    this.term.onLine((line) => {
      // A post's typed line gives way to the post itself, shown once it is stored.
      if (this.mode === 'chat' && parseLine(line, 'chat').kind === 'post') this.term.retract(line);
      this.queue.push(line);
      void this.pump();
    });
    this.term.onEnd(() => {
      this.eof = true;
      void this.pump();
    });
    this.term.onInterrupt(() => this.finish(0));
    this.conn.connect().then(
      (g) => {
        this.connected = true;
        this.print(`connected as ${this.conn.user} to ${g.machine} (${g.server}); type 'help' for commands`);
        this.updatePrompt();
        void this.pump();
      },
      (err: unknown) => {
        this.error(`error: ${errorMessage(err)}`);
        if (err instanceof ServerRefusal) this.opts.onRefused?.();
        this.finish(1);
      },
    );
    return done;
  }

  private async pump(): Promise<void> {
    if (this.busy || !this.connected || this.finished) return;
    this.busy = true;
    while (this.queue.length > 0 && !this.finished) {
      const cmd = parseLine(this.queue.shift() as string, this.mode);
      if ((await this.execute(cmd)) === 'quit') this.finish(0);
    }
    this.busy = false;
    if (this.eof) this.finish(0);
    else this.term.prompt();
  }

  private async execute(cmd: Command): Promise<'quit' | void> {
    try {
      switch (cmd.kind) {
        case 'nothing':
          return;
        case 'error':
          return this.error(`error: ${cmd.message}`);
        case 'help':
          return helpLines(this.mode).forEach((l) => this.print(l));
        case 'quit':
          return 'quit';
        case 'join':
        case 'leave': {
          const res = await this.conn.call(cmd.kind === 'join' ? 'Join' : 'Leave', { user: this.conn.user, room: cmd.room });
          const line = res.event && formatEvent(res.event, this.clock());
          if (line) this.print(line);
          return;
        }
        case 'list':
          return await this.listRooms(cmd.prefix, '');
        case 'more':
          if (!this.nextPage) return this.error("error: nothing more to list; type 'list' or 'list <prefix>'");
          return await this.listRooms(this.nextPage.prefix, this.nextPage.token);
        case 'chat':
          return await this.enterChat();
        case 'exit':
          await this.feed?.stop();
          this.feed = null;
          this.mode = 'command';
          this.updatePrompt();
          return this.print('back to command mode');
        case 'post':
          return await this.post(cmd.text);
      }
    } catch (err) {
      this.error(`error: ${errorMessage(err)}`);
    }
  }

  private async post(text: string): Promise<void> {
    try {
      await this.feed?.post(text);
    } catch (err) {
      // On a terminal the typed line is gone (it gives way to the stored post): say what was not posted.
      this.error(`error: ${errorMessage(err)}${this.opts.terminal ? `; not posted: ${text}` : ''}`);
    }
  }

  /** Local times on chat lines, in a terminal only: a pipe's output stays as the contract words it. */
  private clock(): Clock | undefined {
    return this.opts.terminal ? { now: Date.now() } : undefined;
  }

  /**
   * The first connect is retrying: on a terminal a status line says so until the
   * outcome takes its place (a pipe gets only the outcome: one line).
   */
  private connecting(servers: readonly string[]): void {
    if (!this.connected && !this.finished) this.term.status(`connecting to ${servers.join(', ')} ...`);
  }

  /** One page of the directory (the server's default size); remembers where `more` goes on. */
  private async listRooms(prefix: string, token: string): Promise<void> {
    const res = await this.conn.call('List', { user: this.conn.user, prefix, page_token: token });
    this.nextPage = res.next_page_token ? { prefix, token: res.next_page_token } : null;
    formatRooms({ rooms: res.rooms, prefix, more: this.nextPage !== null }).forEach((l) => this.print(l));
  }

  private async enterChat(): Promise<void> {
    this.print(`chat mode: each line you type is posted to your room; 'exit' returns to commands, 'help' lists the others`);
    const feed = new ChatFeed(this.conn, {
      line: (l) => this.print(l),
      note: (l) => this.error(l),
      error: (l) => this.error(l),
      clock: () => this.clock(),
    });
    await feed.start();
    this.feed = feed;
    this.mode = 'chat';
    this.updatePrompt();
  }

  private updatePrompt(): void {
    this.term.setPrompt(this.mode === 'chat' ? `${this.conn.user} (chat)> ` : `${this.conn.user}> `);
  }

  private print(line: string): void {
    if (!this.finished) this.term.print(line);
  }

  private error(line: string): void {
    if (!this.finished) this.term.error(line);
  }

  private finish(code: number): void {
    if (this.finished) return;
    this.finished = true;
    void this.feed?.stop();
    this.conn.close();
    this.term.close();
    this.resolveDone(code);
  }
}
