/**
 * Whatever the bench started is undone however it ends: normally, on an error,
 * or on Ctrl-C / SIGTERM. Cleanups are synchronous (kill by pid, remove a dir) so
 * they can run from a signal handler and from process 'exit'.
 */
const cleanups: (() => void)[] = [];
let installed = false;

export function onCleanup(fn: () => void): void {
  cleanups.push(fn);
  if (installed) return;
  installed = true;
  process.on('exit', runCleanups);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      console.error(`bench: ${signal}; cleaning up`);
      process.exit(130);
    });
  }
}

export function runCleanups(): void {
  while (cleanups.length > 0) {
    try {
      cleanups.pop()!();
    } catch {
      /* best effort: keep undoing the rest */
    }
  }
}
