/**
 * A JSON log line as one readable terminal line:
 *   `14:02:03 WARN  m1 worker 0 (pid 123): event loop delayed (maxMs=140)`
 * pino-pretty does this and more (colours, multi-line objects), but it is a dozen
 * packages loaded into every process of a machine that has a terminal; a warning
 * needs one line.
 */

const FIXED = new Set(['time', 'level', 'machine', 'role', 'pid', 'msg']);
/** The roles whose processes have a slot of their own; elsewhere `slot` is a field (the slot a line is about). */
const SLOTTED = new Set(['worker', 'replicator', 'replica', 'guardian']);

export function formatLogLine(json: string): string {
  let l: Record<string, unknown>;
  try {
    l = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const time = typeof l.time === 'string' ? new Date(l.time).toTimeString().slice(0, 8) : '';
  const ownSlot = SLOTTED.has(String(l.role));
  const who = [l.machine, l.role, ownSlot ? l.slot : undefined].filter((x) => x !== undefined && x !== '').join(' ');
  const extra = Object.entries(l)
    .filter(([k]) => !FIXED.has(k) && !(ownSlot && k === 'slot'))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  const level = String(l.level ?? '').toUpperCase().padEnd(5);
  return `${time} ${level} ${who} (pid ${String(l.pid)}): ${String(l.msg)}${extra ? ` (${extra})` : ''}\n`.replace(/\n(?!$)/g, ' ');
}
