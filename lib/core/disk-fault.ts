/**
 * Which I/O errors mean "the disk (or the process's share of it) has no room for
 * this now": a full file system or quota, too many open files, a file system
 * remounted read-only. They refuse the write in hand (the client hears
 * UNAVAILABLE) and pass by themselves when the operator makes room; unlike a
 * failed fsync or a file that disagrees with its index, they never call for a restart.
 * Pure.
 */
const TRANSIENT = new Set(['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'EROFS']);

export function isDiskFault(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT.has(code);
}
