/**
 * The client's screen and keyboard: node:readline over stdin, which may be a
 * terminal or a pipe. On a terminal a line arriving while the user types clears
 * the prompt line, prints, and redraws the prompt with the typed text intact; on
 * a pipe there is no prompt and lines are plain. On a terminal the session ends on
 * a clean line (Ctrl-C or Ctrl-D), so the shell's prompt never lands on the chat prompt.
 */
import * as readline from 'node:readline';

export interface TerminalIo {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  errors: NodeJS.WritableStream;
  /** True when input and output are a terminal: show a prompt and protect the typed line. */
  terminal: boolean;
}

/** What the session does with the input: each line entered, its end (Ctrl-D on a terminal, EOF on a pipe), Ctrl-C. */
export interface InputHandlers {
  line: (line: string) => void;
  end: () => void;
  interrupt: () => void;
}

export class Terminal {
  private readonly rl: readline.Interface;
  private promptShown = false;
  /** Whether the line just entered was typed after a prompt (readline echoed both). */
  private enteredAfterPrompt = false;
  private closed = false;

  constructor(private readonly io: TerminalIo) {
    this.rl = readline.createInterface({
      input: io.input,
      output: io.terminal ? io.output : undefined,
      terminal: io.terminal,
      historySize: io.terminal ? 100 : 0,
    });
    this.rl.on('line', () => {
      this.enteredAfterPrompt = this.promptShown;
      this.promptShown = false; // readline has moved to a fresh line
    });
  }

  listen(on: InputHandlers): void {
    this.rl.on('line', on.line);
    this.rl.on('close', on.end);
    this.rl.on('SIGINT', on.interrupt);
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

  /**
   * A transient line (e.g. `connecting to ...`) on a terminal: the next line
   * printed, or the prompt, takes its place.
   */
  status(text: string): void {
    if (!this.io.terminal || this.closed) return;
    wipe(this.io.output, this.rl);
    this.io.errors.write([...text].slice(0, columns(this.io.output) - 1).join('')); // one row: the wipe clears one
  }

  /**
   * Takes back a line the user just entered (readline has echoed it and moved
   * below it), so what it leads to can be shown in its place.
   */
  retract(line: string): void {
    if (!this.io.terminal || this.closed) return;
    const width = (this.enteredAfterPrompt ? this.rl.getPrompt().length : 0) + [...line].length;
    readline.moveCursor(this.io.output, 0, -(Math.floor(Math.max(0, width - 1) / columns(this.io.output)) + 1));
    readline.cursorTo(this.io.output, 0);
    readline.clearScreenDown(this.io.output);
  }

  close(): void {
    if (this.closed) return;
    if (this.io.terminal) wipe(this.io.output, this.rl); // the prompt and any half-typed line: the shell's prompt goes there
    this.closed = true;
    this.rl.close();
  }

  private write(stream: NodeJS.WritableStream, line: string): void {
    if (!this.io.terminal || this.closed) {
      stream.write(`${line}\n`);
      return;
    }
    wipe(this.io.output, this.rl);
    stream.write(`${line}\n`);
    if (this.promptShown) this.rl.prompt(true);
  }
}

function columns(output: NodeJS.WritableStream): number {
  return (output as NodeJS.WriteStream).columns || 80;
}

/** Wipes the prompt and whatever is typed (it may wrap over several rows), or a status line. */
function wipe(out: NodeJS.WritableStream, rl: readline.Interface): void {
  readline.moveCursor(out, 0, -rl.getCursorPos().rows);
  readline.cursorTo(out, 0);
  readline.clearScreenDown(out);
}
