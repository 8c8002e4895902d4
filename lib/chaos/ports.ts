/**
 * Free TCP ports on this host, for clusters started on the fly (tests, the chaos
 * run). They come from below the kernel's ephemeral range: a port from inside it
 * can be taken as the source port of some outgoing connection while its server
 * restarts (a killed master's admin port, say), and the server then cannot bind
 * it again until that connection closes.
 *
 * A port is free when asked, but nothing binds it until its cluster starts, and
 * some ports are bound again after each restart. So each port handed out is
 * reserved for the life of the process that asked: never handed out twice in it
 * (one cluster.json picks a dozen), and, through a file named for it in a host-wide
 * dir, never to another process on this host that uses this module (tap runs test
 * files side by side). A reservation whose process is dead is taken over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { isAlive } from '../common/proc-stat';

const LOWEST = 10_000;
/** Not os.tmpdir(): tests point TMPDIR at a dir of their own. */
const RESERVATIONS = '/tmp/ftchat-ports';

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
const mine = new Set<number>();

export async function freePort(): Promise<number> {
  return freePortRun(1);
}

/** The first of `n` consecutive free ports (a machine's admin port and its guardians'). */
export async function freePortRun(n: number): Promise<number> {
  for (;;) {
    const first = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST - n + 2));
    const run = Array.from({ length: n }, (_, i) => first + i);
    const reserved = run.filter(reserve);
    if (reserved.length === n && (await Promise.all(run.map(portIsFree))).every(Boolean)) return first;
    reserved.forEach(release);
  }
}

function reserve(port: number): boolean {
  if (mine.has(port) || !reserveOnHost(port)) return false;
  mine.add(port);
  return true;
}

/** Takes the port's file in the host-wide dir, unless a live process holds it. */
function reserveOnHost(port: number): boolean {
  const file = join(RESERVATIONS, String(port));
  try {
    mkdirSync(RESERVATIONS, { recursive: true });
    writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return true; // no shared dir here: this process's own set still holds
  }
  let owner: number;
  try {
    owner = Number(readFileSync(file, 'utf8'));
  } catch {
    return false; // released meanwhile: another pick
  }
  // Empty while its writer is between creating and writing it: taken.
  if (!(Number.isSafeInteger(owner) && owner > 0) || isAlive(owner)) return false;
  // A dead process's reservation (two takers of one stale file at once is a race this ignores: it needs the same random port).
  rmSync(file, { force: true });
  return reserveOnHost(port);
}

function release(port: number): void {
  if (!mine.delete(port)) return;
  rmSync(join(RESERVATIONS, String(port)), { force: true });
}

process.on('exit', () => [...mine].forEach(release));

function portIsFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}
