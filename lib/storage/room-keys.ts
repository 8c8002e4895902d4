/**
 * Whose key a room is, as this process knows it (core/room-key.ts: the earliest
 * create proved by a majority's votes; for a room from before that, the earliest
 * create carrying a key). Rooms created before keys carry none until a key claims them.
 *
 * Looked up once per room a process serves (a read of the room file's create lines),
 * then kept: a create applied later can only replace it by the rule. Memory grows
 * with the users served here (a fingerprint each), not with history.
 */
import type { ChatEvent } from '../core/event';
import { fingerprint, parseKeyText } from '../core/identity';
import { proofError, type ProofTrust } from '../core/name-proof';
import { decide, type Choice } from '../core/room-key';
import type { Logger } from '../common/log';
import { machineOfOrigin } from '../core/origins';
import type { Journal } from './journal';

export interface RoomKey extends Choice {
  raw: Buffer;
  /** The deciding create. */
  event: ChatEvent;
}

interface Known {
  key: RoomKey | null;
  /** Whether the room file was read: creates applied before it was are in it. */
  scanned: boolean;
}

/** A create just applied, and what it did to its room's key (for the log of claims). */
export interface Claim {
  event: ChatEvent;
  before: RoomKey | null;
  after: RoomKey | null;
}

export class RoomKeys {
  private readonly known = new Map<string, Known>();

  constructor(
    private readonly journal: Journal,
    /** Whether a create's proof is valid for its room and key. */
    private readonly proved: (e: ChatEvent) => boolean,
    onClaim?: (c: Claim) => void,
  ) {
    // Creates are always read, whoever stored them; posts are not wanted here.
    journal.listeners.onApplied((e) => {
      if (e.kind !== 'create') return;
      const k = this.entry(e.room);
      // What the room's key was before this create: its file holds this one already.
      if (onClaim && !k.scanned) this.scan(k, e.room, e);
      const before = k.key;
      this.offer(k, e);
      onClaim?.({ event: e, before, after: k.key });
    }, () => false);
  }

  /** The room's key, or null if no create of it carries one (yet). */
  of(room: string): RoomKey | null {
    const k = this.entry(room);
    if (!k.scanned) this.scan(k, room);
    return k.key;
  }

  private scan(k: Known, room: string, except?: ChatEvent): void {
    for (const e of this.journal.reads.roomCreates(room)) if (!(except && e.origin === except.origin && e.seq === except.seq)) this.offer(k, e);
    k.scanned = true;
  }

  private entry(room: string): Known {
    let k = this.known.get(room);
    if (!k) this.known.set(room, (k = { key: null, scanned: false }));
    return k;
  }

  private offer(k: Known, e: ChatEvent): void {
    k.key = decide(k.key, e, this.proved, (event, raw, certified) => ({ hlc: event.hlc, origin: event.origin, id: event.id, fingerprint: fingerprint(raw), certified, raw, event }));
  }
}

/** Whether a create carries a valid proof that a majority settled its room's name for its key. */
export function provedBy(trust: ProofTrust): (e: ChatEvent) => boolean {
  return (e) => e.kind === 'create' && e.proof !== undefined && proofError(e.proof, { name: e.room, key: e.text }, trust) === null;
}

/**
 * Logs every claim of a name (a create applied here) with the origin and machine that
 * made it, and every change of a room's key, so a stolen machine's claims are seen
 * (README, Security). Warns when a create carrying another key than the room's is
 * passed over, and when a key changes (possible only for rooms from before names
 * were settled by a majority).
 */
export function logClaims(log: Logger): (c: Claim) => void {
  return ({ event: e, before, after }) => {
    const raw = parseKeyText(e.text);
    const fields = { room: e.room, origin: e.origin, madeBy: machineOfOrigin(e.origin), key: raw ? fingerprint(raw) : null, proof: e.proof !== undefined, hlc: e.hlc };
    const decides = after?.event === e;
    if (before && after && before.fingerprint !== after.fingerprint) {
      log.warn('room key changed', { ...fields, from: before.fingerprint, to: after.fingerprint, certified: after.certified });
    } else if (raw && after && after.fingerprint !== fingerprint(raw)) {
      log.warn("name claim passed over: the room is another key's", { ...fields, roomKey: after.fingerprint, certified: after.certified });
    } else {
      log.info('name claim', { ...fields, decides, certified: decides && after?.certified === true });
    }
  };
}
