/**
 * Where a corrupt room-file line goes: data/<machine>/quarantine/<room>.<offset>.line
 * holds its bytes, and the line itself is blanked in place (lib/core/room-log), so
 * every other line keeps its offset and the index stays right. The event it was is
 * fetched again from a peer (lib/core/event-index holds the vector below the hole).
 * `fbs status` lists the files until an operator, having looked, deletes them. Pure.
 */
export const QUARANTINE_DIR = 'quarantine';
const SUFFIX = '.line';

export function quarantineFileName(room: string, offset: number): string {
  return `${room}.${offset}${SUFFIX}`;
}

/** Whether a name in the quarantine dir is a quarantined line (not a temp file). */
export function isQuarantineFile(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\.\d+\.line$/.test(name);
}
