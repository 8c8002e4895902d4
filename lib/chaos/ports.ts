/** Free TCP ports on this host, for clusters started on the fly (tests, the chaos run). */
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
    srv.on('error', rej);
  });
}

/** The first of `n` consecutive free ports (a machine's admin port and its guardians'). */
export async function freePortRun(n: number): Promise<number> {
  for (;;) {
    const first = await freePort();
    if (first + n > 65535) continue;
    let ok = true;
    for (let i = 1; i < n && ok; i++) ok = await portIsFree(first + i);
    if (ok) return first;
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}
