/**
 * A machine's disk that can lose its power: a dir mounted through
 * test/tools/lazyfs/lazyfs.py, a FUSE file system that keeps only what was synced
 * when it is cut (see the README beside it). For the power-loss tests and the chaos
 * run's `power` fault: cut (everything unsynced is gone, every operation fails from
 * then on), kill the machine's processes, boot (mount again: a new boot id), start.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../common/paths';
import { eachLine } from '../common/lines';
import { waitUntil } from '../common/wait-until';

export const LAZYFS_DIR = join(REPO_ROOT, 'test', 'tools', 'lazyfs');
/** Debian's python, the one python3-fusepy installs into (not a pyenv or venv one first in PATH). */
const PYTHON = '/usr/bin/python3';
/** A mount answers within this (python and libfuse start in about 0.2 s; a loaded host is slower). */
const MOUNT_MS = 30_000;

export interface CutReport {
  /** Bytes written but not synced, gone. */
  droppedBytes: number;
  /** Files that had unsynced bytes. */
  droppedFiles: number;
  /** Directory entries put back to their synced state (creates undone, unlinks and renames taken back). */
  namesUndone: number;
  /** The write torn at a random byte, if asked for and there was one. */
  torn: { path: string; offset: number; kept: number; of: number } | null;
  ms: number;
  /** For an armed cut: where it struck (`after rename /checkpoint.tmp.123`). */
  at?: string;
}

export interface CutOptions {
  /** Tear the last unsynced write of the most recently written file at a random byte. */
  tear?: boolean;
  /** Seeds that byte. */
  seed?: number;
}

/** A cut armed to strike at an operation (see lazyfs.py `arm`). */
export interface Trap extends CutOptions {
  when: 'before' | 'after';
  /** Operations, `|`-separated: write, truncate, fsync, fsyncdir, create, mkdir, rename, unlink, rmdir. */
  ops: string;
  /** A regular expression the path within the mount must match (`^/wal/`). */
  path: string;
  /** Strike at the count-th such operation (default the first). */
  count?: number;
  /** Earlier steps, in order: the trap strikes only after each was seen (e.g. a checkpoint's rename, then its directory sync). */
  following?: { ops: string; path: string }[];
}

export class LazyMount {
  private daemon: ChildProcess | null = null;
  private reports: Record<string, unknown>[] = [];
  /** Cut reports handed out by nextCut. */
  private cutsTaken = 0;
  private errors: string[] = [];
  /** The boot id of the current mount. */
  bootId = '';

  constructor(
    /** Where the bytes live (a plain dir). */
    readonly backing: string,
    readonly mountPoint: string,
  ) {}

  /** What a process whose data lives here needs: the mount's boot id for its own, and a `sync -f` that reaches the mount. */
  env(): Record<string, string> {
    return { FTCHAT_BOOT_ID_FILE: join(this.mountPoint, '.lazyfs-boot_id'), PATH: `${join(LAZYFS_DIR, 'bin')}:${process.env.PATH ?? ''}` };
  }

  /** Mounts (a boot): resolves once the file system answers. */
  async mount(): Promise<void> {
    mkdirSync(this.backing, { recursive: true });
    mkdirSync(this.mountPoint, { recursive: true });
    const daemon = spawn(PYTHON, [join(LAZYFS_DIR, 'lazyfs.py'), this.backing, this.mountPoint], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.daemon = daemon;
    this.reports = [];
    this.cutsTaken = 0;
    eachLine(daemon.stdout!, (line) => this.reports.push(JSON.parse(line) as Record<string, unknown>));
    eachLine(daemon.stderr!, (line) => this.errors.push(line));
    const gone = (): boolean => daemon.exitCode !== null || daemon.signalCode !== null;
    await waitUntil(() => gone() || this.reports.some((r) => r.event === 'mounted'), MOUNT_MS).catch(() => undefined);
    const mounted = this.reports.find((r) => r.event === 'mounted');
    if (!mounted || gone()) {
      daemon.kill('SIGKILL');
      throw new Error(`lazyfs did not mount ${this.mountPoint}: ${this.errors.slice(-5).join(' | ') || 'no answer'}`);
    }
    this.bootId = String(mounted.bootId);
  }

  /** Cuts the power: what was not synced is gone, and every operation fails until the next boot. */
  async cut(o: CutOptions = {}): Promise<CutReport> {
    await this.command(`cut${o.tear ? ' tear' : ''}${o.seed === undefined ? '' : ` seed=${o.seed}`}`);
    return this.nextCut();
  }

  /** Arms a cut to strike at an operation; nextCut() resolves with its report. */
  async arm(trap: Trap): Promise<void> {
    const opts = [trap.tear ? 'tear' : '', trap.seed === undefined ? '' : `seed=${trap.seed}`, `count=${trap.count ?? 1}`].filter(Boolean);
    const steps = [...(trap.following ?? []), trap].map((step) => `${step.ops} ${step.path}`);
    await this.command(`arm ${opts.join(' ')} ${trap.when} ${steps.join(' ')}`);
  }

  /** The next cut of this mount (a command's or an armed one's) not yet handed out, once it has happened. */
  async nextCut(timeoutMs = 60_000): Promise<CutReport> {
    const cuts = (): Record<string, unknown>[] => this.reports.filter((r) => r.command === 'cut');
    await waitUntil(() => cuts().length > this.cutsTaken, timeoutMs, 20);
    return cuts()[this.cutsTaken++] as unknown as CutReport;
  }

  /** Makes everything durable (what syncfs does). */
  async sync(): Promise<void> {
    await this.command('sync');
  }

  /** Unmounts (after the machine's processes are gone) and mounts again: the reboot after a cut. */
  async boot(): Promise<void> {
    await this.unmount();
    await this.mount();
  }

  /** Unmounts, and waits for the daemon to end. */
  async unmount(): Promise<void> {
    const daemon = this.daemon;
    if (!daemon) return;
    this.daemon = null;
    if (daemon.exitCode !== null || daemon.signalCode !== null) {
      lazyUnmount(this.mountPoint);
      return;
    }
    const ended = new Promise((resolve) => daemon.once('exit', resolve));
    lazyUnmount(this.mountPoint);
    // A lazy unmount's daemon lives on while any mount namespace still holds a copy of the
    // mount (every `ip netns exec` of a chaos run takes one); its bytes are all in the
    // backing dir, so it is told to go. SIGTERM: libfuse leaves its loop; SIGKILL if it hangs.
    daemon.kill('SIGTERM');
    const timer = setTimeout(() => daemon.kill('SIGKILL'), 10_000);
    await ended;
    clearTimeout(timer);
  }

  private async command(line: string): Promise<Record<string, unknown>> {
    const before = this.reports.length;
    writeFileSync(join(this.mountPoint, '.lazyfs'), line); // returns once the daemon has done it
    const word = line.split(' ')[0];
    await waitUntil(() => this.reports.slice(before).some((r) => r.command === word), 10_000);
    return this.reports.slice(before).find((r) => r.command === word)!;
  }
}

function lazyUnmount(mountPoint: string): void {
  try {
    execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
  } catch (err) {
    if (!/not mounted|no mount point/i.test(String((err as { stderr?: Buffer }).stderr ?? err))) throw err;
  }
}

/** Why a lazyfs mount cannot be made here (not root, no /dev/fuse, no python3-fusepy, mounting refused), or false. */
export function lazyFsUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'lazyfs needs root to mount';
  if (!existsSync('/dev/fuse')) return 'lazyfs needs /dev/fuse';
  const probe = spawnSync(PYTHON, [join(LAZYFS_DIR, 'lazyfs.py'), '--probe'], { stdio: 'pipe', timeout: MOUNT_MS });
  const why = String(probe.stderr ?? probe.error ?? '').trim().split('\n').pop();
  if (probe.status === 0) return false;
  return /fusepy/.test(why ?? '') ? `lazyfs needs Debian's fuse3 and python3-fusepy (${why})` : `a lazyfs mount does not work here (${why})`;
}
