/**
 * What the typed commands do, one at a time, and the mode they leave the session
 * in: command mode, or chat mode, where each line is a post and the feed runs.
 */
import { errorMessage } from '../common/log';
import { ChatFeed } from './chat-feed';
import type { ChatConnection } from './connection';
import { helpLines, type Command, type Mode } from './commands';
import { formatEvent, formatRooms, type Clock } from './format';

/** Where a command's results go: the session's screen. */
export interface CommandOutput {
  print: (line: string) => void;
  error: (line: string) => void;
  setPrompt: (text: string) => void;
  /** A terminal (local times on chat lines), not a pipe. */
  terminal: boolean;
}

export class CommandRunner {
  mode: Mode = 'command';
  private feed: ChatFeed | null = null;
  /** Where the last `list` stopped, for `more`. */
  private nextPage: { prefix: string; token: string } | null = null;

  constructor(
    private readonly conn: ChatConnection,
    private readonly out: CommandOutput,
  ) {}

  /** Runs a command; an error is one line, and the session goes on. */
  async execute(cmd: Command): Promise<'quit' | void> {
    try {
      switch (cmd.kind) {
        case 'nothing':
          return;
        case 'error':
          return this.out.error(`error: ${cmd.message}`);
        case 'help':
          return helpLines(this.mode).forEach((l) => this.out.print(l));
        case 'quit':
          return 'quit';
        case 'join':
        case 'leave': {
          const res = await this.conn.call(cmd.kind === 'join' ? 'Join' : 'Leave', { user: this.conn.user, room: cmd.room });
          const line = res.event && formatEvent(res.event, this.clock());
          if (line) this.out.print(line);
          return;
        }
        case 'list':
          return await this.listRooms(cmd.prefix, '');
        case 'more':
          if (!this.nextPage) return this.out.error("error: nothing more to list; type 'list' or 'list <prefix>'");
          return await this.listRooms(this.nextPage.prefix, this.nextPage.token);
        case 'chat':
          return await this.enterChat();
        case 'exit':
          await this.feed?.stop();
          this.feed = null;
          this.mode = 'command';
          this.updatePrompt();
          return this.out.print('back to command mode');
        case 'post':
          return await this.post(cmd.text);
      }
    } catch (err) {
      this.out.error(`error: ${errorMessage(err)}`);
    }
  }

  updatePrompt(): void {
    this.out.setPrompt(this.mode === 'chat' ? `${this.conn.user} (chat)> ` : `${this.conn.user}> `);
  }

  /** Ends the chat feed, if one runs. */
  stop(): void {
    void this.feed?.stop();
  }

  private async post(text: string): Promise<void> {
    try {
      await this.feed?.post(text);
    } catch (err) {
      // On a terminal the typed line is gone (it gives way to the stored post): say what was not posted.
      this.out.error(`error: ${errorMessage(err)}${this.out.terminal ? `; not posted: ${text}` : ''}`);
    }
  }

  /** Local times on chat lines, in a terminal only: a pipe's output stays as the contract words it. */
  private clock(): Clock | undefined {
    return this.out.terminal ? { now: Date.now() } : undefined;
  }

  /** One page of the directory (the server's default size); remembers where `more` goes on. */
  private async listRooms(prefix: string, token: string): Promise<void> {
    const res = await this.conn.call('List', { user: this.conn.user, prefix, page_token: token });
    this.nextPage = res.next_page_token ? { prefix, token: res.next_page_token } : null;
    formatRooms({ rooms: res.rooms, prefix, more: this.nextPage !== null }).forEach((l) => this.out.print(l));
  }

  private async enterChat(): Promise<void> {
    this.out.print(`chat mode: each line you type is posted to your room; 'exit' returns to commands, 'help' lists the others`);
    const feed = new ChatFeed(this.conn, {
      line: (l) => this.out.print(l),
      note: (l) => this.out.error(l),
      error: (l) => this.out.error(l),
      clock: () => this.clock(),
    });
    await feed.start();
    this.feed = feed;
    this.mode = 'chat';
    this.updatePrompt();
  }
}
