/**
 * Request/response over the IPC channel of a forked helper process (echo server,
 * follower streams), so load can be spread over processes. The parent side
 * registers every child for cleanup; the child side exits when its parent goes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from './cleanup';

interface Reply {
  replyTo: number;
  result?: unknown;
  error?: string;
}

export class ChildLink {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();

  private constructor(readonly child: ChildProcess) {
    child.on('message', (msg: Reply) => {
      const p = this.pending.get(msg.replyTo);
      if (!p) return;
      this.pending.delete(msg.replyTo);
      if (msg.error !== undefined) p.reject(new Error(msg.error));
      else p.resolve(msg.result);
    });
    child.on('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`helper process exited (${signal ?? code})`));
      this.pending.clear();
    });
  }

  /**
   * Forks dist/bench/<module>.js; with `nice`, at that scheduling priority (19: the
   * lowest), so on a busy host it gets only the CPU the server leaves.
   */
  static start(module: string, nice?: number): ChildLink {
    const child = fork(join(__dirname, `${module}.js`), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    onCleanup(() => child.kill('SIGKILL'));
    if (nice !== undefined && child.pid) setPriority(child.pid, nice);
    return new ChildLink(child);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  request<T = unknown>(type: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, type, ...args });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** In a helper process: answer the parent's requests; exit when the parent is gone. */
export function serveParent(handlers: Record<string, (args: any) => unknown>): void {
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  process.on('message', (msg: { id: number; type: string }) => {
    const handler = handlers[msg.type];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown request '${msg.type}'`);
        return handler(msg);
      })
      .then(
        (result) => process.send?.({ replyTo: msg.id, result }),
        (err: unknown) => process.send?.({ replyTo: msg.id, error: err instanceof Error ? err.message : String(err) }),
      );
  });
}
