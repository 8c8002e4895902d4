/**
 * The client's screen and keyboard: node:readline over stdin, which may be a
 * terminal or a pipe. On a terminal a line arriving while the user types clears
 * the prompt line, prints, and redraws the prompt with the typed text intact; on
 * a pipe there is no prompt and lines are plain.
 */
import * as readline from 'node:readline';

export interface TerminalIo {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  errors: NodeJS.WritableStream;
  /** True when input and output are a terminal: show a prompt and protect the typed line. */
  terminal: boolean;
}

export class Terminal {
  private readonly rl: readline.Interface;
  private promptShown = false;
  private closed = false;

  constructor(private readonly io: TerminalIo) {
    this.rl = readline.createInterface({
      input: io.input,
      output: io.terminal ? io.output : undefined,
      terminal: io.terminal,
      historySize: io.terminal ? 100 : 0,
    });
    this.rl.on('line', () => {
      this.promptShown = false; // readline has moved to a fresh line
    });
  }

  onLine(fn: (line: string) => void): void {
    this.rl.on('line', fn);
  }

  /** End of input: Ctrl-D on a terminal, EOF on a pipe. */
  onEnd(fn: () => void): void {
    this.rl.on('close', fn);
  }

  /** Ctrl-C on a terminal. */
  onInterrupt(fn: () => void): void {
    this.rl.on('SIGINT', fn);
  }

  setPrompt(text: string): void {
    this.rl.setPrompt(text);
  }

  prompt(): void {
    if (!this.io.terminal || this.closed) return;
    this.promptShown = true;
    this.rl.prompt(true);
  }

  print(line: string): void {
    this.write(this.io.output, line);
  }

  error(line: string): void {
    this.write(this.io.errors, line);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.rl.close();
  }

  private write(stream: NodeJS.WritableStream, line: string): void {
    if (!this.io.terminal || this.closed) {
      stream.write(`${line}\n`);
      return;
    }
    // Wipe the prompt and whatever is typed (it may wrap over several rows), print, redraw.
    const out = this.io.output;
    readline.moveCursor(out, 0, -this.rl.getCursorPos().rows);
    readline.cursorTo(out, 0);
    readline.clearScreenDown(out);
    stream.write(`${line}\n`);
    if (this.promptShown) this.rl.prompt(true);
  }
}
