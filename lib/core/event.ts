/**
 * Events are the only data: immutable, uniquely identified, stamped with their
 * origin's dense seq and a hybrid logical clock. Every reader orders them by the
 * same key (hlc, origin, id), so every machine shows the same order.
 */
import { compareHlc, type Hlc } from './hlc';
import { isUsername } from './usernames';

export type EventKind = 'create' | 'post' | 'join' | 'leave';
export const EVENT_KINDS: readonly EventKind[] = ['create', 'post', 'join', 'leave'];

export interface ChatEvent {
  id: string;
  origin: string;
  seq: number;
  kind: EventKind;
  room: string;
  author: string;
  text: string;
  hlc: Hlc;
  /**
   * The fingerprint of the user key that made it (identity.ts: fingerprint): the
   * session's for a post, join or leave, the owner's for a create. Absent in lines
   * from before keys were recorded, which count as they always did.
   */
  key?: string;
  /** A create's proof that a majority of machines settled its name for its key (name-proof.ts). */
  proof?: string;
}

/** What an event sorts by. */
export type Ordered = Pick<ChatEvent, 'hlc' | 'origin' | 'id'>;

/** The one ordering key: (hlc, origin, id). */
export function compareEvents<A extends Ordered, B extends Ordered>(a: A, b: B): number {
  return compareHlc(a.hlc, b.hlc) || cmp(a.origin, b.origin) || cmp(a.id, b.id);
}

/**
 * Of two copies of one post (a retry stored under two slots), the one every reader
 * shows: the first in key order, whatever order they arrived in. Tails, streams and
 * dumps all pick by this, so machines holding the same copies show the same one.
 */
export function shownCopy(a: ChatEvent, b: ChatEvent): ChatEvent {
  return compareEvents(b, a) < 0 ? b : a;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Room creation has a fixed id so that two writers creating the same room store it once. */
export function createEventId(room: string): string {
  return `create/${room}`;
}

/** Post ids are namespaced by author so one user's ids can never shadow another's. */
export function postEventId(author: string, clientId: string): string {
  return `post/${author}/${clientId}`;
}

/** One canonical JSON line (fixed key order; key and proof only when present), used both on disk and in dumps. */
export function eventToLine(e: ChatEvent): string {
  return JSON.stringify({
    id: e.id,
    origin: e.origin,
    seq: e.seq,
    kind: e.kind,
    room: e.room,
    author: e.author,
    text: e.text,
    hlc: { wall: e.hlc.wall, logical: e.hlc.logical },
    ...(e.key ? { key: e.key } : {}),
    ...(e.proof ? { proof: e.proof } : {}),
  });
}

/** A key fingerprint: 16 bytes in base64url (identity.ts: fingerprint). */
const FINGERPRINT = /^[A-Za-z0-9_-]{22}$/;
/** A proof holds a majority's votes, each a machine certificate and a signature: a few kilobytes. */
export const MAX_PROOF_CHARS = 16_384;

/** The optional fields of an event from outside: '' (proto3's default) is absent. */
function extras(o: Record<string, unknown>): { key?: string; proof?: string } | null {
  const key = o.key ?? '';
  const proof = o.proof ?? '';
  if (typeof key !== 'string' || (key !== '' && !FINGERPRINT.test(key))) return null;
  if (typeof proof !== 'string' || proof.length > MAX_PROOF_CHARS || (proof !== '' && o.kind !== 'create')) return null;
  return { ...(key ? { key } : {}), ...(proof ? { proof } : {}) };
}

/** Validates an untrusted object (a parsed line or a wire message) as an event. */
export function asEvent(x: unknown): ChatEvent | null {
  if (typeof x !== 'object' || x === null) return null;
  const o = x as Record<string, unknown>;
  const hlc = o.hlc as Record<string, unknown> | null | undefined;
  const ok =
    typeof o.id === 'string' && o.id.length > 0 &&
    isOrigin(o.origin) &&
    isCount(o.seq) && (o.seq as number) > 0 &&
    EVENT_KINDS.includes(o.kind as EventKind) &&
    // Rooms name room files: a name from outside must not reach outside the data folder.
    isUsername(o.room) &&
    isUsername(o.author) &&
    typeof o.text === 'string' &&
    typeof hlc === 'object' && hlc !== null && isCount(hlc.wall) && isCount(hlc.logical);
  const more = ok ? extras(o) : null;
  if (!more) return null;
  return {
    id: o.id as string,
    origin: o.origin as string,
    seq: o.seq as number,
    kind: o.kind as EventKind,
    room: o.room as string,
    author: o.author as string,
    text: o.text as string,
    hlc: { wall: (hlc as Record<string, number>).wall, logical: (hlc as Record<string, number>).logical },
    ...more,
  };
}

/**
 * Origins name index files (data/<machine>/index/<origin>.idx), so one from outside
 * must be a plain file name: e.g. "m1.3fa2c1.w0" or "m1.replicator".
 */
const ORIGIN = /^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;

export function isOrigin(v: unknown): v is string {
  return typeof v === 'string' && v.length <= 64 && ORIGIN.test(v);
}

function isCount(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
