/**
 * What an event does to an index (event-index.ts): a create adds its room and may
 * settle its key; a follow or unfollow changes the graph; a post, join or leave
 * made with a key counts only if it is its user's key (its room's for a post, its
 * author's for the others), and one whose user's key is not known yet is parked
 * until it is. Pure.
 */
import type { ChatEvent } from './event';
import type { FollowGraph } from './follow-graph';
import type { NameNumbers } from './name-numbers';
import type { NameTable } from './name-table';
import type { Released } from './origin-seqs';
import type { RoomDirectory } from './room-directory';
import type { RoomKeyTable } from './room-key-table';

/** Whether a create carries a valid proof that a majority settled its name (storage/room-keys: provedBy). */
export type Proved = (e: ChatEvent) => boolean;

/** The parts of an index that events change. */
export interface Effected {
  readonly names: NameTable;
  readonly rooms: RoomDirectory;
  readonly keys: RoomKeyTable;
  readonly graph: FollowGraph;
  /** Events made with a key, by the user whose key is not known here yet: applied (or shown) once it is. */
  readonly parked: Map<string, ChatEvent[]>;
  /** Bytes of the lines each user wrote (posts, joins, leaves, creations), whether they count or not. */
  readonly authored: NameNumbers;
  readonly proved: Proved;
}

/** Applies events in order (each one `bytes` long, or measured): returns what to show. */
export function applyEvents(to: Effected, events: Released[], bytesOf: (e: ChatEvent) => number): ChatEvent[] {
  const out: ChatEvent[] = [];
  for (const { e, bytes } of events) {
    to.authored.add(e.author, bytes ?? bytesOf(e));
    out.push(...effectOf(to, e, true));
  }
  return out;
}

/**
 * An event's effect on rooms, keys and the graph; returns what to show: the event
 * if it counts, and what its create released. `live`: posts are shown (a bulk load
 * shows nothing, and keeps no post waiting).
 */
export function effectOf(to: Effected, e: ChatEvent, live: boolean): ChatEvent[] {
  if (e.kind === 'create') {
    to.rooms.add(to.names.canonical(e.room));
    to.keys.offer(e, to.proved);
    return [e, ...release(to, e.room, live)];
  }
  if (e.key !== undefined) {
    const user = e.kind === 'post' ? e.room : e.author;
    const key = to.keys.fingerprintOf(user);
    if (key === null && (live || e.kind !== 'post')) park(to.parked, user, e);
    if (key !== e.key) return [];
  }
  if (e.kind !== 'post') to.graph.apply(e);
  return [e];
}

/** Keeps an event until its user's key is known. */
export function park(parked: Map<string, ChatEvent[]>, user: string, e: ChatEvent): void {
  const waiting = parked.get(user);
  if (waiting) waiting.push(e);
  else parked.set(user, [e]);
}

function release(to: Effected, user: string, live: boolean): ChatEvent[] {
  const waiting = to.parked.get(user);
  if (!waiting) return [];
  to.parked.delete(user);
  return waiting.flatMap((e) => effectOf(to, e, live));
}
