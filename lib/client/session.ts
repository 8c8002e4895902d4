/**
 * One user's session: connect, then run typed lines one at a time, strictly in
 * order (a piped script behaves like a typist who waits for each answer), until
 * the user disconnects or the input ends (what each command does: command-runner.ts).
 * Errors are one line; the session goes on.
 */
import type * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../common/log';
import { CommandRunner } from './command-runner';
import { ChatConnection, ServerRefusal } from './connection';
import { parseLine } from './commands';
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
  private readonly commands: CommandRunner;
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
        // The first connect is retrying: on a terminal a status line says so until the
        // outcome takes its place (a pipe gets only the outcome: one line).
        onRetrying: (servers) => {
          if (!this.connected && !this.finished) this.term.status(`connecting to ${servers.join(', ')} ...`);
        },
      },
    );
    this.commands = new CommandRunner(this.conn, {
      print: (line) => this.print(line),
      error: (line) => this.error(line),
      setPrompt: (text) => this.term.setPrompt(text),
      terminal: opts.terminal,
    });
  }

  run(): Promise<number> {
    const done = new Promise<number>((resolve) => (this.resolveDone = resolve));
    // Lines typed or piped while connecting wait in the queue.
    this.term.listen({
      line: (line) => {
        // A post's typed line gives way to the post itself, shown once it is stored.
        if (this.commands.mode === 'chat' && parseLine(line, 'chat').kind === 'post') this.term.retract(line);
        this.queue.push(line);
        void this.pump();
      },
      end: () => {
        this.eof = true;
        void this.pump();
      },
      interrupt: () => this.finish(0),
    });
    this.conn.connect().then(
      (g) => {
        this.connected = true;
        this.print(`connected as ${this.conn.user} to ${g.machine} (${g.server}); type 'help' for commands`);
        this.commands.updatePrompt();
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
      const cmd = parseLine(this.queue.shift() as string, this.commands.mode);
      if ((await this.commands.execute(cmd)) === 'quit') this.finish(0);
    }
    this.busy = false;
    if (this.eof) this.finish(0);
    else this.term.prompt();
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
    this.commands.stop();
    this.conn.close();
    this.term.close();
    this.resolveDone(code);
  }
}
