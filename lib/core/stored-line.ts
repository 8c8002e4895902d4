/**
 * A room file's line as a peer ships it (EventBatch.lines): the receiver appends
 * these bytes to its own room file as they came, so they are checked to be one
 * line that reads back as exactly the event it is checked as. Parsed once; never
 * encoded again. Pure.
 */
import { asEvent, MAX_PROOF_CHARS, type ChatEvent } from './event';

/** The keys of an event's line (eventToLine), key and proof only when present. */
const LINE_KEYS = new Set(['id', 'origin', 'seq', 'kind', 'room', 'author', 'text', 'hlc', 'key', 'proof']);
const NEWLINE = 0x0a;

/** At most this many bytes: a post of `maxPostChars` characters each escaped (\uXXXX), a proof, the rest. */
export function maxLineBytes(maxPostChars: number): number {
  return 6 * maxPostChars + MAX_PROOF_CHARS + 4_096;
}

/**
 * The event a shipped line holds, or why it is refused: not one line, too long,
 * not JSON, not an event, or carrying keys an event's line has not (they would be
 * stored, unread). The event's own bounds are the caller's to check (peerEventError).
 */
export function storedLineEvent(line: Buffer, maxBytes: number): ChatEvent | string {
  if (line.length > maxBytes) return `a line of ${line.length} bytes (at most ${maxBytes})`;
  if (line.indexOf(NEWLINE) >= 0) return 'a line with a line break in it';
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  const e = asEvent(value);
  if (!e) return 'malformed event';
  const o = value as Record<string, unknown>;
  for (const k in o) if (!LINE_KEYS.has(k)) return `an unknown key ${JSON.stringify(k.slice(0, 40))}`;
  const hlc = o.hlc as object;
  if (Object.keys(hlc).length !== 2) return 'an hlc with keys other than wall and logical';
  // An empty key or proof reads back as absent: a line is stored as it came only when it says what it means.
  if (('key' in o && !e.key) || ('proof' in o && !e.proof)) return 'an empty key or proof';
  return e;
}
