/**
 * A real terminal for a test: a private tmux server on its own socket, running one
 * command in a pane, killed (and its socket removed) at teardown.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const tmuxMissing = spawnSync('tmux', ['-V']).error ? 'tmux is not installed: skipping the terminal test' : false;

export interface Terminal {
  /** tmux itself, on this terminal's server (its session is `t`). */
  tmux(...args: string[]): string;
  /** The pane's lines, trailing blanks trimmed (with `history`, the scrolled-off ones too). */
  screen(history?: boolean): string[];
  /** tmux send-keys: key names (`Enter`, `C-c`), or `-l` and literal text. */
  keys(...keys: string[]): void;
  close(): void;
}

export function openTerminal(command: string, opts: { width?: number; height?: number; env?: Record<string, string> } = {}): Terminal {
  const dir = mkdtempSync(join(tmpdir(), 'ftchat-tmux-'));
  const socket = join(dir, 'tmux.sock');
  const tmux = (...args: string[]): string => execFileSync('tmux', ['-S', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  const env = Object.entries(opts.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  tmux('new-session', '-d', '-s', 't', '-x', String(opts.width ?? 100), '-y', String(opts.height ?? 30), ...env, command);
  const panePid = Number(tmux('display-message', '-p', '-t', 't', '#{pane_pid}').trim());
  return {
    tmux,
    screen: (history = false) =>
      tmux('capture-pane', '-p', '-J', '-t', 't', ...(history ? ['-S', '-'] : []))
        .split('\n')
        .map((l) => l.trimEnd()),
    keys: (...keys) => void tmux('send-keys', '-t', 't', ...keys),
    close: () => {
      try {
        process.kill(panePid, 'SIGKILL');
      } catch {
        /* already exited */
      }
      spawnSync('tmux', ['-S', socket, 'kill-server']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
