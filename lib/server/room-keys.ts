/**
 * Whose key a room is, as this process knows it: the key of the room's earliest
 * create event that carries one, in the cluster's one order (so machines that
 * created the same name apart agree once their events meet). Rooms created before
 * keys carry none until a key claims them (README "Security: identity").
 *
 * Looked up once per room a process serves (a read of the room file's create lines),
 * then kept: a create applied later can only replace it by sorting earlier. Memory
 * grows with the users served here (a fingerprint each), not with history.
 */
import { compareEvents, type ChatEvent } from '../core/event';
import { fingerprint, parseKeyText } from '../core/identity';
import type { Journal } from '../storage/journal';

export interface RoomKey {
  raw: Buffer;
  fingerprint: string;
}

interface Known {
  /** The deciding create event (null: none carries a key yet). */
  event: ChatEvent | null;
  key: RoomKey | null;
  /** Whether the room file was read: creates applied before it was are in it. */
  scanned: boolean;
}

export class RoomKeys {
  private readonly known = new Map<string, Known>();

  constructor(private readonly journal: Journal) {
    // Creates are always read, whoever stored them; posts are not wanted here.
    journal.onApplied((e) => {
      if (e.kind === 'create') this.offer(this.entry(e.room), e);
    }, () => false);
  }

  /** The room's key, or null if no create of it carries one (yet). */
  of(room: string): RoomKey | null {
    const k = this.entry(room);
    if (!k.scanned) {
      for (const e of this.journal.roomCreates(room)) this.offer(k, e);
      k.scanned = true;
    }
    return k.key;
  }

  private entry(room: string): Known {
    let k = this.known.get(room);
    if (!k) this.known.set(room, (k = { event: null, key: null, scanned: false }));
    return k;
  }

  private offer(k: Known, e: ChatEvent): void {
    const raw = parseKeyText(e.text);
    if (!raw || (k.event && compareEvents(k.event, e) <= 0)) return;
    k.event = e;
    k.key = { raw, fingerprint: fingerprint(raw) };
  }
}
