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
  /** The pane's lines, trailing blanks trimmed (with `history`, the scrolled-off ones too). */
  screen(history?: boolean): string[];
  /** tmux send-keys: key names (`Enter`, `C-c`), or `-l` and literal text. */
  keys(...keys: string[]): void;
  /** The command's exit status once it has exited (the pane stays, showing its last screen), else null. */
  exitStatus(): number | null;
  close(): void;
}

export function openTerminal(command: string, opts: { width?: number; height?: number; env?: Record<string, string> } = {}): Terminal {
  const dir = mkdtempSync(join(tmpdir(), 'ftchat-tmux-'));
  const socket = join(dir, 'tmux.sock');
  const tmux = (...args: string[]): string => execFileSync('tmux', ['-S', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  const env = Object.entries(opts.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  tmux('new-session', '-d', '-s', 't', '-x', String(opts.width ?? 100), '-y', String(opts.height ?? 30), ...env, command, ';', 'set-option', '-t', 't', 'remain-on-exit', 'on');
  const panePid = Number(tmux('display-message', '-p', '-t', 't', '#{pane_pid}').trim());
  return {
    screen: (history = false) =>
      tmux('capture-pane', '-p', '-J', '-t', 't', ...(history ? ['-S', '-'] : []))
        .split('\n')
        .map((l) => l.trimEnd()),
    keys: (...keys) => void tmux('send-keys', '-t', 't', ...keys),
    exitStatus: () => {
      const [dead, status] = tmux('display-message', '-p', '-t', 't', '#{pane_dead} #{pane_dead_status}').trim().split(' ');
      return dead === '1' ? Number(status) : null;
    },
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
