/**
 * Nothing a test file started outlives it, even when tap kills the file (timeout:
 * SIGALRM then SIGKILL) and its teardowns never run.
 *
 * A test process that starts processes calls ownChildren() (the helpers that spawn
 * do): it puts FTCHAT_TEST_OWNER=<its pid>.<its start time> into its environment,
 * which every descendant inherits (servers, node:cluster workers, detached
 * guardians, revived primaries, `ip netns exec` wrappers, fbc,
 * writers, tmux), and points TMPDIR at a dir of its own, so every temp dir it makes
 * (through os.tmpdir()) lies inside that one dir. The pid with the start time names
 * one process only: a recycled pid never carries a dead owner's mark.
 *
 * A watchdog (this file with --watch) holds the read end of a pipe from the test
 * process; the pipe closes when that process dies, however it dies, and the
 * watchdog then kills by pid every process carrying the mark, deletes the lab
 * network namespaces they ran in, and removes the owner's temp dir. The same sweep,
 * for every owner no longer alive, runs before and after the suite (.taprc
 * before/after), for leftovers of a watchdog that was itself killed.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { environOf, killUntilGone } from '../../lib/common/processes';
import { procStat } from '../../lib/common/proc-stat';

const OWNER_VAR = 'FTCHAT_TEST_OWNER';
const OWNER_DIR_PREFIX = 'ftchat-owner-';

/** `<pid>.<start time in clock ticks since boot>`, or null for a process that is gone. */
function ownerId(pid: number): string | null {
  const stat = procStat(pid);
  return stat === null || stat[0] === 'Z' ? null : `${pid}.${stat[19]}`;
}

function ownerAlive(owner: string): boolean {
  return ownerId(Number(owner.split('.')[0])) === owner;
}

/** The temp dir as it was before ownChildren: for what a failed test keeps for a person to read. */
const lastingTmpdir = tmpdir();
export function keptTmpdir(): string {
  return lastingTmpdir;
}

/** Marks this process as the owner of whatever it starts from now on, and starts its watchdog. Idempotent. */
export function ownChildren(): void {
  if (process.env[OWNER_VAR]) return; // already owned: by this process, or by the test process that started it
  const owner = ownerId(process.pid)!;
  const dir = join(tmpdir(), `${OWNER_DIR_PREFIX}${owner}`);
  mkdirSync(dir, { recursive: true });
  // Spawned before the mark and TMPDIR are set: the watchdog is no child to reap, and sees the real tmpdir.
  const watchdog = spawn(process.execPath, [...process.execArgv, __filename, '--watch', owner], {
    detached: true, // not in the test's process group: it must outlive the test
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  // Holding the pipe open is all the test does; neither it nor the child keeps the test alive.
  (watchdog.stdin as unknown as { unref(): void }).unref();
  watchdog.unref();
  process.env[OWNER_VAR] = owner;
  process.env.TMPDIR = dir;
}

/** Live processes (not zombies) carrying one of `owners`' mark, by pid; every mark found when `owners` is null. */
function marked(owners: Set<string> | null): Map<number, string> {
  const found = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const mark = environOf(entry)?.find((e) => e.startsWith(`${OWNER_VAR}=`))?.slice(OWNER_VAR.length + 1);
    if (mark && (owners === null || owners.has(mark)) && procStat(entry)?.[0] !== 'Z') found.set(Number(entry), mark);
  }
  return found;
}

/** Live pids carrying `owner`'s mark. */
export function ownedPids(owner: string): number[] {
  return [...marked(new Set([owner])).keys()];
}

/** The inode of a network namespace (a process's /proc/<pid>/ns/net, or a named one in /run/netns). */
function netnsInode(path: string): number | null {
  try {
    return statSync(path).ino;
  } catch {
    return null;
  }
}

/** The lab namespace (lib/chaos/net-lab names them ft<id>-<machine>) each of these processes runs in, by pid. */
function labNamespacesOf(pids: number[]): Map<number, string> {
  let labs: [string, number | null][];
  try {
    labs = readdirSync('/run/netns').filter((n) => /^ft[0-9a-f]{6}-/.test(n)).map((n) => [n, netnsInode(`/run/netns/${n}`)]);
  } catch {
    return new Map(); // no named namespaces at all
  }
  const found = new Map<number, string>();
  for (const pid of pids) {
    const ino = netnsInode(`/proc/${pid}/ns/net`);
    const lab = labs.find(([, i]) => i !== null && i === ino);
    if (lab) found.set(pid, lab[0]);
  }
  return found;
}

/** Deleting the namespace destroys its veth pair; the lab's bridge (ftb<id>) is the host's and goes too. */
function deleteLab(ns: string): void {
  for (const args of [['netns', 'del', ns], ['link', 'del', `ftb${ns.slice(2, 8)}`]]) {
    try {
      execFileSync('ip', args, { stdio: 'ignore' });
    } catch {
      /* gone already (the bridge is shared by the lab's namespaces) */
    }
  }
}

/**
 * libfaketime (the clock-skew tests preload it) keeps a semaphore and a segment in
 * /dev/shm named after the pid that loaded it first, shared with its descendants
 * through FAKETIME_SHARED, and removes them only at a clean exit. Removes those
 * whose creator is gone and that no live process still names.
 */
function removeFaketimeLeftovers(): void {
  let names: string[];
  try {
    names = readdirSync('/dev/shm').filter((n) => /^(sem\.)?faketime_(sem|shm)_\d+$/.test(n));
  } catch {
    return; // no /dev/shm here
  }
  if (names.length === 0) return;
  const inUse = new Set<string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const shared = environOf(entry)?.find((e) => e.startsWith('FAKETIME_SHARED='));
    for (const id of shared?.match(/_(\d+)\b/g) ?? []) inUse.add(id.slice(1));
  }
  for (const name of names) {
    const pid = name.slice(name.lastIndexOf('_') + 1);
    if (inUse.has(pid) || procStat(pid) !== null) continue;
    rmSync(join('/dev/shm', name), { force: true });
  }
}

export interface Reaped {
  owner: string;
  pids: number[];
  namespaces: string[];
  dirRemoved: boolean;
}

/**
 * Kills, by pid, every process of these owners (of every owner no longer alive
 * when `owners` is null), deletes their lab namespaces, removes their temp dirs.
 * Every one is stopped before any is killed, so no guardian revives what dies (killUntilGone).
 */
export async function reap(owners: Set<string> | null): Promise<Reaped[]> {
  const wanted = (o: string): boolean => (owners === null ? !ownerAlive(o) : owners.has(o));
  const reaped = new Map<string, Reaped>();
  const entry = (owner: string): Reaped => {
    if (!reaped.has(owner)) reaped.set(owner, { owner, pids: [], namespaces: [], dirRemoved: false });
    return reaped.get(owner)!;
  };
  // Not waitFor: its deadline is cut to tap's kill of the test file, which for a
  // watchdog of a file tap killed at its timeout has passed already (one sweep, then
  // the guardians revived what was left, for minutes).
  const find = (): number[] => {
    const live = [...marked(owners)].filter(([, o]) => wanted(o));
    const labs = labNamespacesOf(live.map(([pid]) => pid));
    for (const [pid, owner] of live) {
      const r = entry(owner);
      if (!r.pids.includes(pid)) r.pids.push(pid); // a SIGKILLed process may still be seen once before it dies
      const ns = labs.get(pid);
      if (ns && !r.namespaces.includes(ns)) r.namespaces.push(ns);
    }
    return live.map(([pid]) => pid);
  };
  await killUntilGone(find, `${owners ? [...owners].join(', ') : 'dead test processes'}`, 60_000);
  for (const r of reaped.values()) {
    for (const ns of r.namespaces) deleteLab(ns);
  }
  removeFaketimeLeftovers();
  for (const name of readdirSync(tmpdir())) {
    const owner = name.startsWith(OWNER_DIR_PREFIX) ? name.slice(OWNER_DIR_PREFIX.length) : null;
    if (owner === null || !wanted(owner)) continue;
    unmountUnder(join(tmpdir(), name));
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
    entry(owner).dirRemoved = true;
  }
  return [...reaped.values()];
}

/**
 * Detaches the file systems a killed test left mounted in its temp dir (a full-disk
 * tmpfs, a power-loss lazyfs whose daemon is gone), deepest first, so the dir can go.
 */
function unmountUnder(dir: string): void {
  let mounts: string[];
  try {
    mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m?.startsWith(`${dir}/`));
  } catch {
    return;
  }
  for (const m of mounts.sort((a, b) => b.length - a.length)) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      /* gone meanwhile */
    }
  }
}

function describe(r: Reaped): string {
  const parts = [
    r.pids.length > 0 ? `killed pids ${r.pids.join(' ')}` : '',
    r.namespaces.length > 0 ? `deleted namespaces ${r.namespaces.join(' ')}` : '',
    r.dirRemoved ? 'removed its temp dir' : '',
  ].filter(Boolean);
  return `reaper: test process ${r.owner.split('.')[0]} is gone; ${parts.join(', ') || 'nothing left'}`;
}

/**
 * `reaper --watch <owner>`: waits for the owner's pipe to close, then reaps it.
 * `reaper`: reaps every owner that is no longer alive (before and after the suite).
 */
async function main(argv: string[]): Promise<void> {
  const watched = argv[0] === '--watch' ? argv[1] : null;
  // A tree that revives itself on a host at a load of 100 must not outrun its reaper.
  try {
    setPriority(-20);
  } catch {
    /* not root: the reaper still stops every process before it kills any */
  }
  if (watched) {
    process.stdin.resume();
    await new Promise((resolve) => process.stdin.once('close', resolve));
  }
  const reaped = await reap(watched ? new Set([watched]) : null);
  // The watchdog of a test that ended well finds only its empty temp dir: nothing to say.
  for (const r of reaped) if (!watched || r.pids.length > 0 || r.namespaces.length > 0) process.stderr.write(`${describe(r)}\n`);
  if (!watched && reaped.length === 0) process.stderr.write('reaper: no test process left anything behind\n');
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`reaper: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
