/**
 * Whose key a room is, from the room's create events alone, so every machine holding
 * the same events agrees (docs/names.md): the earliest create, in the cluster's one
 * order, that carries a valid proof that a majority settled the name for its key;
 * and for a room with none (one from before names were settled by a majority), the
 * earliest create carrying a key at all. Paxos lets at most one key be proved per
 * name, so a proved key never changes, whatever a peer sends later. Pure: the
 * caller says which creates carry a valid proof.
 */
import { compareEvents, type ChatEvent, type Ordered } from './event';
import { fingerprint, parseKeyText } from './identity';

/** What the rule keeps of a room's deciding create: where it sorts, its key, and whether it is proved. */
export interface Choice extends Ordered {
  fingerprint: string;
  /** Its name was settled by a majority (it carries a valid proof). */
  certified: boolean;
}

/**
 * The deciding create of `current` and `e` (a create): a proved key before any other,
 * then the earlier. `proved` is asked only when it can change the answer: a proof is
 * checked when its key differs from the deciding one's, or could make it proved.
 * `make` keeps what its caller wants of a new deciding create.
 */
export function decide<C extends Choice>(current: C | null, e: ChatEvent, proved: (e: ChatEvent) => boolean, make: (e: ChatEvent, raw: Buffer, certified: boolean) => C): C | null {
  const raw = e.kind === 'create' ? parseKeyText(e.text) : null;
  if (!raw) return current;
  const earlier = !current || compareEvents(e, current) < 0;
  if (current?.certified) return earlier && e.proof && proved(e) ? make(e, raw, true) : current;
  if (e.proof && proved(e)) return make(e, raw, true);
  return earlier ? make(e, raw, false) : current;
}

/** A choice holding only what the rule needs. */
export function choiceOf(e: ChatEvent, raw: Buffer, certified: boolean): Choice {
  return { hlc: e.hlc, origin: e.origin, id: e.id, fingerprint: fingerprint(raw), certified };
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
