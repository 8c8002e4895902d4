/**
 * One machine's service unit, as systemd runs startup/systemd/ftchat@.service:
 * the startup script in the foreground, started again RestartSec after it exits
 * (Restart=always) for as long as the unit is enabled. Disabling it is "this
 * machine is switched off": nothing restarts it until it is enabled again.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface UnitOptions {
  /** argv of the main process, read at each start (so a new clock offset applies on restart). */
  command: () => string[];
  env: () => NodeJS.ProcessEnv;
  /** The journal: stdout and stderr of the unit's processes. */
  logFd: number;
  restartSec: number;
}

export class ServiceUnit {
  private child: ChildProcess | null = null;
  private enabled = false;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: UnitOptions) {}

  enable(): void {
    this.enabled = true;
    if (!this.child && !this.restartTimer) this.spawn();
  }

  /** No more restarts; the caller kills the machine's processes. */
  disable(): void {
    this.enabled = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  private spawn(): void {
    const [cmd, ...args] = this.opts.command();
    // Its own process group, like a unit's cgroup: nothing here is signalled by accident.
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', this.opts.logFd, this.opts.logFd], env: this.opts.env() });
    this.child = child;
    const ended = (): void => {
      if (this.child !== child) return;
      this.child = null;
      if (!this.enabled) return;
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (this.enabled && !this.child) this.spawn();
      }, this.opts.restartSec);
    };
    // A command that cannot be started reports 'error' and no 'exit': either ends the run.
    child.on('error', ended);
    child.on('exit', ended);
  }
}
