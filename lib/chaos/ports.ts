/**
 * Free TCP ports on this host, for clusters started on the fly (tests, the chaos
 * run). They come from below the kernel's ephemeral range: a port from inside it
 * can be taken as the source port of some outgoing connection while its server
 * restarts (a killed master's admin port, say), and the server then cannot bind
 * it again until that connection closes.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOWEST = 10_000;

/** One below the kernel's ephemeral range (Linux default 32768-60999). */
function highest(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (low > LOWEST + 1_000) return low - 1;
  } catch {
    /* not Linux: keep the default */
  }
  return 32_767;
}

const HIGHEST = highest();

export async function freePort(): Promise<number> {
  return freePortRun(1);
}

/**
 * Ports this process handed out: a port is free until its server binds it, so two picks
 * for one cluster could meet (a bench's m2 once got m3's admin port as its client port).
 */
const handedOut = new Set<number>();

/** The first of `n` consecutive free ports (a machine's admin port and its guardians'). */
export async function freePortRun(n: number): Promise<number> {
  for (;;) {
    const first = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST - n + 2));
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = !handedOut.has(first + i) && (await portIsFree(first + i));
    if (!ok) continue;
    for (let i = 0; i < n; i++) handedOut.add(first + i);
    return first;
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}
