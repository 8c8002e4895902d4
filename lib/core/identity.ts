/**
 * Users are keys: the pure parts of the identity protocol (README "Security:
 * identity"). A user proves it holds its Ed25519 key by signing a server's nonce;
 * the server answers with a session token that every machine of the cluster can
 * verify without a round trip, since nonces and tokens are MACed under keys derived
 * from the cluster secret. Nothing here keeps state or reads a clock: the caller
 * passes the time and the random bytes, so every check is testable alone.
 */
import { createHash, createHmac, createPublicKey, hkdfSync, timingSafeEqual, verify } from 'node:crypto';

/** How long a nonce may be answered: a client signs it at once. */
export const NONCE_TTL_MS = 60_000;
/**
 * A token minted on a machine whose clock runs this far ahead of ours still passes
 * the lifetime cap (limits.maxSessionMs) here: past it, the client proves its key
 * again on this machine, as for a token this machine's clock says has expired.
 */
export const TOKEN_CLOCK_SLACK_MS = 60_000;
/** A nonce stamped this far in the future is still taken (its machine's clock moved back a little). */
const FUTURE_SLACK_MS = 5_000;

/** The bytes a client signs, domain-separated so a signature means nothing anywhere else. */
export function connectMessage(user: string, nonce: string): Buffer {
  return Buffer.from(`ftchat-connect-v1\n${user}\n${nonce}`, 'utf8');
}

export const RAW_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
const KEY_PREFIX = 'ed25519:';
/** DER header of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

/** A room's key as its create event carries it: "ed25519:" and the raw key in base64. */
export function keyText(raw: Buffer): string {
  return `${KEY_PREFIX}${raw.toString('base64')}`;
}

/** The raw key of a key text from outside, or null if it is not one. */
export function parseKeyText(text: unknown): Buffer | null {
  if (typeof text !== 'string' || !text.startsWith(KEY_PREFIX)) return null;
  const b64 = text.slice(KEY_PREFIX.length);
  if (!/^[A-Za-z0-9+/]{43}=$/.test(b64)) return null;
  const raw = Buffer.from(b64, 'base64');
  return raw.length === RAW_KEY_BYTES ? raw : null;
}

/** A short name of a key, carried in tokens: the first 16 bytes of its SHA-256, base64url. */
export function fingerprint(raw: Buffer): string {
  return createHash('sha256').update(raw).digest().subarray(0, 16).toString('base64url');
}

/** True if `signature` is `raw`'s Ed25519 signature of `message`; false for any malformed input. */
export function verifySignature(raw: Buffer, message: Buffer, signature: Buffer): boolean {
  if (raw.length !== RAW_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  try {
    const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw]), format: 'der', type: 'spki' });
    return verify(null, message, key, signature);
  } catch {
    return false; // e.g. bytes that are no point of the curve
  }
}

/** The raw 32 bytes of an Ed25519 public key object (the end of its SPKI). */
export function rawPublicKey(spkiDer: Buffer): Buffer {
  return spkiDer.subarray(spkiDer.length - RAW_KEY_BYTES);
}

export interface ClusterKeys {
  nonce: Buffer;
  session: Buffer;
}

/** The MAC keys of nonces and sessions, derived from the cluster secret (HKDF-SHA256). */
export function clusterKeys(secret: string): ClusterKeys {
  const derive = (info: string): Buffer => Buffer.from(hkdfSync('sha256', secret, 'ftchat', info, 32));
  return { nonce: derive('ftchat-nonce-v1'), session: derive('ftchat-session-v1') };
}

function mac(key: Buffer, ...parts: string[]): Buffer {
  return createHmac('sha256', key).update(parts.join('\n')).digest();
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The bytes of a base64url text from outside, or null unless it is their one canonical text (no two texts name one token). */
function canonical64(text: string): Buffer | null {
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}

/** At most this long: a token or nonce from outside is looked at only below it. */
const MAX_TEXT = 512;

/**
 * A nonce for `user`: "n1.<base64url(16 random bytes, issue time as 8 bytes)>.<base64url(MAC)>".
 * Stateless: any machine with the cluster secret checks it, and it names its user, so
 * it cannot be answered for another.
 */
export function mintNonce(keys: ClusterKeys, user: string, random: Buffer, nowMs: number): string {
  const body = Buffer.alloc(24);
  random.copy(body, 0, 0, 16);
  body.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(nowMs))), 16);
  const b = body.toString('base64url');
  return `n1.${b}.${mac(keys.nonce, 'nonce', user, b).toString('base64url')}`;
}

/** Null if `nonce` is one this cluster issued to `user` and still fresh, else why not. */
export function nonceError(keys: ClusterKeys, user: string, nonce: unknown, nowMs: number): string | null {
  if (typeof nonce !== 'string' || nonce.length > MAX_TEXT) return 'bad nonce';
  const [v, b, m, ...rest] = nonce.split('.');
  if (v !== 'n1' || !b || !m || rest.length) return 'bad nonce';
  const body = canonical64(b);
  const given = canonical64(m);
  if (body?.length !== 24 || !given) return 'bad nonce';
  if (!sameBytes(given, mac(keys.nonce, 'nonce', user, b))) return 'nonce not issued to this user by this cluster';
  const age = nowMs - Number(body.readBigUInt64BE(16));
  return age > NONCE_TTL_MS || age < -FUTURE_SLACK_MS ? 'nonce expired: ask for a new one' : null;
}

export interface Session {
  user: string;
  /** Fingerprint of the key that proved it. */
  key: string;
  expiresAtMs: number;
}

/** "v1.<base64url(JSON {u, k, x})>.<base64url(MAC)>". */
export function mintToken(keys: ClusterKeys, s: Session): string {
  const b = Buffer.from(JSON.stringify({ u: s.user, k: s.key, x: s.expiresAtMs })).toString('base64url');
  return `v1.${b}.${mac(keys.session, 'session', b).toString('base64url')}`;
}

/**
 * The session a token from outside proves, or why it proves none (one line). A
 * token whose expiry lies further ahead than `maxLifetimeMs` (plus the clock slack)
 * is refused, so the cluster secret alone cannot make a session that outlives it.
 */
export function verifyToken(keys: ClusterKeys, token: unknown, nowMs: number, maxLifetimeMs: number): Session | string {
  if (typeof token !== 'string' || token.length > MAX_TEXT) return 'bad session token';
  const [v, b, m, ...rest] = token.split('.');
  if (v !== 'v1' || !b || !m || rest.length) return 'bad session token';
  const given = canonical64(m);
  if (!given || !canonical64(b) || !sameBytes(given, mac(keys.session, 'session', b))) return 'bad session token';
  let p: unknown;
  try {
    p = JSON.parse(Buffer.from(b, 'base64url').toString('utf8'));
  } catch {
    return 'bad session token';
  }
  const { u, k, x } = (p ?? {}) as Record<string, unknown>;
  if (typeof u !== 'string' || typeof k !== 'string' || typeof x !== 'number') return 'bad session token';
  if (x <= nowMs) return 'session expired';
  if (x - nowMs > maxLifetimeMs + TOKEN_CLOCK_SLACK_MS) return 'session lasts longer than this cluster allows';
  return { user: u, key: k, expiresAtMs: x };
}

/** gRPC metadata key of the session token: "Bearer <token>". */
export const AUTH_HEADER = 'authorization';

/** The token in an authorization header's value, or null. */
export function bearerToken(value: unknown): string | null {
  return typeof value === 'string' && value.startsWith('Bearer ') ? value.slice(7) : null;
}

/** What a user is told when its name belongs to another key (one line). */
export function otherKeyMessage(user: string): string {
  return `${user} belongs to another key: choose another name, or bring ${user}'s key file`;
}
