/**
 * What a request or an event from outside a process may hold, checked in one place
 * per boundary: the Chat service (clients), the internal services (peers holding the
 * secret) and the events a peer replicates to us. Each bound is what the wire
 * (protos/ftchat.proto: uint32 and uint64 read as JS numbers), the clock and the
 * room and index files can carry. Each check returns null or a one-line reason.
 * Pure: the caller passes the physical time.
 */
import { isOrigin, type ChatEvent } from './event';
import { MAX_VECTOR_ORIGINS } from './origins';
import { MAX_LOGICAL, type Hlc } from './hlc';
import { fingerprint, parseKeyText, RAW_KEY_BYTES, SIGNATURE_BYTES } from './identity';
import { requestFromWire, type WireVoteRequest } from './name-wire';
import { MAX_USERNAME_CHARS, printable, usernameError } from './usernames';
import { hasControlChars } from './control-chars';

export const BOUNDS = {
  /** uint64 fields (seqs, walls, terms) are read as JS numbers: past this they lose digits. */
  maxCount: Number.MAX_SAFE_INTEGER,
  maxLogical: MAX_LOGICAL,
  /** A cursor names the live origins (core/origins bounds them per machine) and a marker per machine for the retired ones. */
  maxCursorOrigins: MAX_VECTOR_ORIGINS,
  /** Origins name index files (isOrigin). */
  maxOriginChars: 64,
  /** A client's post id (the idempotency key of a retry); also the last part of a join's or leave's id. */
  clientId: /^[A-Za-z0-9_-]{1,64}$/,
  /** A List prefix is the start of a username; a page token is 'f:' or 'o:' and one. */
  listPrefix: /^[A-Za-z0-9_.-]{0,32}$/,
  pageToken: /^(|[fo]:[A-Za-z0-9_.-]{0,32})$/,
  /** Machine ids (config.ts) and guardian ids ("m1.g0") on internal RPCs. */
  processId: /^[a-z0-9][a-z0-9_-]{0,15}(\.[a-z0-9_-]{1,16})?$/,
  /** A pid is an int32 on the wire. */
  maxPid: 0x7fff_ffff,
} as const;

export interface InputLimits {
  maxPostChars: number;
  /** How far a client's causal timestamp may run ahead of our physical clock. */
  maxCausalLeadMs: number;
}

type Req = Record<string, unknown>;
type Check = (req: Req, limits: InputLimits, nowMs: number) => string | null;

/** The first reason among `reasons` (evaluated in order), or null. */
function first(...reasons: (() => string | null)[]): string | null {
  for (const r of reasons) {
    const bad = r();
    if (bad) return bad;
  }
  return null;
}

function isCount(v: unknown, max: number = BOUNDS.maxCount): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
}

export function hlcError(h: unknown, what: string): string | null {
  if (typeof h !== 'object' || h === null) return `${what}: a timestamp is required`;
  const { wall, logical } = h as Req;
  if (!isCount(wall)) return `${what}: wall time must be a whole number of ms up to 2^53-1`;
  if (!isCount(logical, BOUNDS.maxLogical)) return `${what}: logical counter must be 0..${BOUNDS.maxLogical}`;
  return null;
}

/** A client's `after`: absent or zero means none; else within the wire and at most maxCausalLeadMs ahead. */
export function causalError(after: unknown, limits: InputLimits, nowMs: number): string | null {
  if (after === null || after === undefined || (after as Hlc).wall === 0) return null;
  const bad = hlcError(after, 'causal timestamp');
  if (bad) return bad;
  const lead = (after as Hlc).wall - nowMs;
  if (lead > limits.maxCausalLeadMs) {
    return `causal timestamp ${Math.round(lead / 1000)} s ahead of this server's clock; at most ${limits.maxCausalLeadMs / 1000} s is accepted`;
  }
  return null;
}

/** A version vector from outside (a client's cursor, a peer's pull vector). */
export function cursorError(v: unknown, what = 'cursor'): string | null {
  if (v === null || v === undefined) return null;
  const seqs = (v as Req).seqs;
  if (seqs === null || seqs === undefined) return null;
  if (typeof seqs !== 'object') return `${what}: not a map`;
  const entries = Object.entries(seqs as Req);
  if (entries.length > BOUNDS.maxCursorOrigins) return `${what}: ${entries.length} origins, at most ${BOUNDS.maxCursorOrigins}`;
  for (const [origin, seq] of entries) {
    if (!isOrigin(origin)) return `${what}: bad origin '${printable(origin)}'`;
    if (!isCount(seq)) return `${what}: seq of ${origin} must be 0..2^53-1`;
  }
  return null;
}

export function postTextError(text: unknown, maxChars: number): string | null {
  if (typeof text !== 'string' || text.trim() === '') return 'empty post';
  const chars = [...text].length;
  if (chars > maxChars) return `post too long: ${chars} characters, the limit is ${maxChars}`;
  if (hasControlChars(text)) return 'a post is one line of text without control characters';
  return null;
}

const user = (name: unknown, what = ''): string | null => {
  const bad = usernameError(name);
  return bad && what ? `${what}: ${bad}` : bad;
};

/** A call with a session acts for its user: an empty `user` means that one (the service refuses any other). */
const self = (name: unknown): string | null => (name === '' ? null : user(name));

const bytes = (v: unknown, n: number, what: string): string | null => (Buffer.isBuffer(v) && v.length === n ? null : `${what} must be ${n} bytes`);

/** Every Chat request field, by method. */
const CHAT: Record<string, Check> = {
  Challenge: (r) => user(r.user),
  Connect: (r) =>
    first(
      () => user(r.user),
      () => bytes(r.public_key, RAW_KEY_BYTES, 'public key'),
      () => (typeof r.nonce === 'string' && r.nonce.length > 0 && r.nonce.length <= 512 ? null : 'a nonce from Challenge is required'),
      () => bytes(r.signature, SIGNATURE_BYTES, 'signature'),
    ),
  Join: (r, l, now) => first(() => self(r.user), () => user(r.room, 'room'), () => causalError(r.after, l, now)),
  Leave: (r, l, now) => CHAT.Join(r, l, now),
  List: (r) =>
    first(
      () => self(r.user),
      () => (BOUNDS.listPrefix.test(String(r.prefix)) ? null : `bad prefix: at most ${MAX_USERNAME_CHARS} of [A-Za-z0-9_.-]`),
      () => (BOUNDS.pageToken.test(String(r.page_token)) ? null : 'bad page token'),
    ),
  Post: (r, l, now) =>
    first(
      () => self(r.user),
      () => (r.id === '' || BOUNDS.clientId.test(String(r.id)) ? null : 'post id must be 1-64 of [A-Za-z0-9_-]'),
      () => postTextError(r.text, l.maxPostChars),
      () => causalError(r.after, l, now),
    ),
  Timeline: (r) => self(r.user),
  Subscribe: (r) => first(() => self(r.user), () => cursorError(r.cursor)),
  Poll: (r) => first(() => self(r.user), () => cursorError(r.cursor)),
};

/** A method with no entry here has no bounds: its calls are refused, and a unit test names it against the proto's services. */
const unbounded = (method: string): string => `${method} has no input bounds (lib/core/input-bounds.ts)`;

/** The Chat boundary: null, or why `method`'s request is refused. (uint32 limits are capped by the service.) */
export function chatRequestError(method: string, req: unknown, limits: InputLimits, nowMs: number): string | null {
  const check = Object.hasOwn(CHAT, method) ? CHAT[method] : undefined;
  if (!check) return unbounded(method);
  return typeof req === 'object' && req !== null ? check(req as Req, limits, nowMs) : null;
}

const processId = (v: unknown, what: string): string | null =>
  typeof v === 'string' && BOUNDS.processId.test(v) ? null : `${what}: bad process id '${printable(v)}'`;
const count = (v: unknown, what: string, max: number = BOUNDS.maxCount): string | null =>
  isCount(v, max) ? null : `${what} must be 0..${max}`;

/** A request with no fields to check. */
const noFields = (): null => null;

/** Every internal request, by method (a Watch stream's handler checks each Beat on it). */
const INTERNAL: Record<string, (r: Req) => string | null> = {
  Heartbeat: noFields,
  Status: noFields,
  WatchChildren: noFields,
  Watch: (r) => first(() => processId(r.from, 'from'), () => count(r.pid, 'pid', BOUNDS.maxPid), () => count(r.term, 'term')),
  Elect: (r) =>
    first(
      () => (r.kind === 'election' || r.kind === 'elected' ? null : `election kind must be 'election' or 'elected'`),
      () => count(r.term, 'term'),
      () => processId(r.candidate, 'candidate'),
      () => (r.kind === 'elected' && r.origin === '' ? null : processId(r.origin, 'origin')),
    ),
  Revive: (r) =>
    first(
      () => (r.role === 'worker' || r.role === 'replicator' ? null : `role must be 'worker' or 'replicator'`),
      () => count(r.slot, 'slot', 1024),
      () => count(r.pid, 'pid', BOUNDS.maxPid),
    ),
  Pull: (r) => first(() => processId(r.from, 'from'), () => cursorError(r.vector, 'vector')),
  Vote: (r) => first(() => processId(r.from, 'from'), () => (requestFromWire(r as unknown as WireVoteRequest) ? null : 'malformed vote request')),
  VoteRecords: (r) => processId(r.from, 'from'),
};

/** The internal boundary (after the secret): null, or why `method`'s request is refused. */
export function internalRequestError(method: string, req: unknown): string | null {
  const check = Object.hasOwn(INTERNAL, method) ? INTERNAL[method] : undefined;
  if (!check) return unbounded(method);
  return typeof req === 'object' && req !== null ? check(req as Req) : null;
}

/** The methods each boundary has bounds for. */
export const BOUNDED_METHODS = { chat: Object.keys(CHAT), internal: Object.keys(INTERNAL) };

/** The id each kind of event carries (event.ts: createEventId, postEventId; a join or leave's ends in a uuid). */
function idError(e: ChatEvent): string | null {
  const [kind, author, ...rest] = e.id.split('/');
  const ok =
    e.kind === 'create'
      ? e.id === `create/${e.room}`
      : kind === e.kind && author === e.author &&
        (e.kind === 'post' ? rest.length === 1 : rest.length === 2 && rest[0] === e.room) &&
        BOUNDS.clientId.test(rest[rest.length - 1] ?? '');
  return ok ? null : `bad ${e.kind} id '${printable(e.id)}'`;
}

/**
 * An event a peer replicates: what a client could have had stored, in the shape our
 * own writers give it. Its wall may lead our clock by a client's lead on the stamping
 * machine plus that machine's own lead on us (at most as much again: a lead past
 * maxCausalLeadMs makes that machine refuse clients' timestamps too). Takes an event
 * asEvent has shaped already (kinds, origin, seq, room and author names).
 */
export function peerEventError(e: ChatEvent, limits: InputLimits, nowMs: number): string | null {
  return first(
    () => idError(e),
    () => hlcError(e.hlc, 'timestamp'),
    () => (e.hlc.wall - nowMs > 2 * limits.maxCausalLeadMs ? `timestamp ${Math.round((e.hlc.wall - nowMs) / 1000)} s ahead of this machine's clock` : null),
    () => {
      if (e.kind === 'post') return e.room === e.author ? postTextError(e.text, limits.maxPostChars) : "a post's room must be its author's";
      if (e.kind === 'create') {
        const raw = parseKeyText(e.text);
        if (e.text !== '' && !raw) return "a create's text must be its owner's key ('ed25519:' and 32 bytes in base64) or empty";
        if (e.key !== undefined && (!raw || e.key !== fingerprint(raw))) return "a create's key must be the fingerprint of the key it carries";
        if (e.proof !== undefined && !raw) return 'a create with a proof must carry a key';
        return e.room === e.author ? null : "a room's creator must be its owner";
      }
      if (e.text !== '') return `a ${e.kind} carries no text`;
      return e.room === e.author ? `a user cannot ${e.kind} its own room` : null;
    },
  );
}
