/**
 * The layout of a data dir, named in one place: each machine's dir, `<dataDir>/<machine>/`,
 * and every file and dir in it. The modules that own a file take its path from here.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { QUARANTINE_DIR } from '../core/quarantine';

/** The files and dirs of a machine's dir, by what they hold. */
const MACHINE_FILES = {
  /** One JSON-lines file per room (the source of truth). */
  rooms: 'rooms',
  /** The one lock a machine's writers append under. */
  roomsLock: 'rooms.lock',
  /** Corrupt lines moved aside. */
  quarantine: QUARANTINE_DIR,
  /** The write-ahead log's segments and its boot mark. */
  wal: 'wal',
  /** Per origin, (seq -> room, offset) records. */
  index: 'index',
  checkpoint: 'checkpoint',
  checkpointLock: 'checkpoint.lock',
  /** The name acceptor's promises and votes (name-votes.ts). */
  nameVotes: 'name-votes.jsonl',
  /** This machine's incarnation id (part of its origins). */
  incarnation: 'incarnation',
  /** The retirements of older incarnations' origins this machine knows (written by its replicator). */
  retired: 'retired.json',
  /** The primary's lock, its record (pid, term) and its beat file for the guardians. */
  primaryLock: 'primary.lock',
  primaryRecord: 'primary.json',
  primaryBeat: 'primary.beat',
  /** How often each slot of the tree was started again (restart-ledger.ts). */
  restarts: 'restarts.json',
  /** Each process's JSON log, `<role>[-<slot>].log`, rotated by size. */
  logs: 'logs',
} as const;

export function machineDirOf(dataDir: string, machine: string): string {
  return join(dataDir, machine);
}

export function machinePath(machineDir: string, what: keyof typeof MACHINE_FILES): string {
  return join(machineDir, MACHINE_FILES[what]);
}

/** Each guardian beats its primary through one of these. */
export function guardianBeatPath(machineDir: string, slot: number): string {
  return join(machineDir, `guardian-${slot}.beat`);
}

/**
 * A machine's data is its account's alone, as etcd keeps it (dirs 0700, files 0600):
 * this process and every process it starts (they inherit the umask) create
 * owner-only files, and the data dir and the machine's dir, even ones made by an
 * older release, are closed to other accounts (which then reach none of the files
 * in them, whatever their own modes).
 */
export function ownerOnlyData(dataDir: string, machine: string): void {
  process.umask(0o077);
  for (const dir of [dataDir, machineDirOf(dataDir, machine)]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }
}
