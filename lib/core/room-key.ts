/**
 * Whose key a room is, from the room's create events alone, so every machine holding
 * the same events agrees (docs/names.md): the earliest create, in the cluster's one
 * order, that carries a valid proof that a majority settled the name for its key;
 * and for a room with none (one from before names were settled by a majority), the
 * earliest create carrying a key at all. Paxos lets at most one key be proved per
 * name, so a proved key never changes, whatever a peer sends later. Pure: the
 * caller says which creates carry a valid proof.
 */
import { compareEvents, type ChatEvent } from './event';
import { fingerprint, parseKeyText } from './identity';

export interface Deciding {
  /** The create whose key the room is. */
  event: ChatEvent;
  raw: Buffer;
  /** Its name was settled by a majority (it carries a valid proof). */
  certified: boolean;
}

/** The deciding create of `current` and `e`: a proved key before any other, then the earlier. */
export function decide(current: Deciding | null, e: ChatEvent, proved: (e: ChatEvent) => boolean): Deciding | null {
  const raw = e.kind === 'create' ? parseKeyText(e.text) : null;
  if (!raw) return current;
  const earlier = !current || compareEvents(e, current.event) < 0;
  if (current?.certified) return earlier && e.proof && proved(e) ? { event: e, raw, certified: true } : current;
  if (e.proof && proved(e)) return { event: e, raw, certified: true };
  return earlier ? { event: e, raw, certified: false } : current;
}

/**
 * Whether an event counts (is shown, applied and dumped): a create only if it carries
 * no key or its room's; a post only if its key is its room's; a join or leave only
 * if its key is its author's. Events from before keys were recorded carry none and
 * count as they always did. `keyOf` gives a user's key fingerprint (null: none known).
 */
export function counts(e: ChatEvent, keyOf: (user: string) => string | null): boolean {
  if (e.kind === 'create') {
    const raw = parseKeyText(e.text);
    return !raw || fingerprint(raw) === keyOf(e.room);
  }
  if (e.key === undefined) return true;
  return e.key === keyOf(e.kind === 'post' ? e.room : e.author);
}
