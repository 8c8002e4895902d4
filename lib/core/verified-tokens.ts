/**
 * The session tokens a process has verified, so that each call of a session does not
 * pay the token's HMAC and parse again (8-16 µs of a post's worker CPU here). A hit
 * still checks the expiry; at most `max` tokens are kept, the oldest verified going
 * first. Only tokens that passed verifyToken are kept, so a hit never accepts what
 * verifyToken would refuse, save a lifetime bound it met when it was verified.
 */
import { verifyToken, type ClusterKeys, type Session } from './identity';

/** About 200 bytes each: a few MB for every session of a busy worker. */
const MAX_TOKENS = 10_000;

export class VerifiedTokens {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly keys: ClusterKeys,
    private readonly maxLifetimeMs: number,
    private readonly max = MAX_TOKENS,
  ) {}

  /** How many verified tokens are kept now. */
  get size(): number {
    return this.sessions.size;
  }

  /** The token's session, or why it is refused (verifyToken's reasons). */
  verify(token: unknown, nowMs: number): Session | string {
    if (typeof token === 'string') {
      const known = this.sessions.get(token);
      if (known && known.expiresAtMs > nowMs) return known;
      this.sessions.delete(token);
    }
    const session = verifyToken(this.keys, token, nowMs, this.maxLifetimeMs);
    if (typeof session === 'string') return session;
    if (this.sessions.size >= this.max) this.sessions.delete(this.sessions.keys().next().value as string);
    this.sessions.set(token as string, session);
    return session;
  }
}
