/**
 * Who follows which room. A user's membership of a room is decided by their latest
 * join or leave by the ordering key, whatever order the events arrive in, so every
 * machine derives the same graph from the same events. Everyone follows their own room.
 */
import { compareEvents, type ChatEvent } from './event';

export class FollowGraph {
  /** room -> user -> the deciding join/leave event */
  private readonly latest = new Map<string, Map<string, ChatEvent>>();
  private readonly followersOf = new Map<string, Set<string>>();
  private readonly roomsOf = new Map<string, Set<string>>();

  /** Applies a join or leave; returns whether membership changed. */
  apply(e: ChatEvent): boolean {
    if (e.kind !== 'join' && e.kind !== 'leave') return false;
    let members = this.latest.get(e.room);
    if (!members) this.latest.set(e.room, (members = new Map()));
    const prev = members.get(e.author);
    if (prev && compareEvents(prev, e) >= 0) return false;
    members.set(e.author, e);
    const was = this.isFollowing(e.author, e.room);
    if (e.kind === 'join') {
      setOf(this.followersOf, e.room).add(e.author);
      setOf(this.roomsOf, e.author).add(e.room);
    } else {
      this.followersOf.get(e.room)?.delete(e.author);
      this.roomsOf.get(e.author)?.delete(e.room);
    }
    return was !== this.isFollowing(e.author, e.room);
  }

  isFollowing(user: string, room: string): boolean {
    return user === room || (this.roomsOf.get(user)?.has(room) ?? false);
  }

  /** Rooms the user follows, own room included, sorted. */
  following(user: string): string[] {
    return [...new Set([user, ...(this.roomsOf.get(user) ?? [])])].sort();
  }

  /** Users who receive the room's events: its owner and its followers. */
  audience(room: string): Set<string> {
    return new Set([room, ...(this.followersOf.get(room) ?? [])]);
  }
}

function setOf(m: Map<string, Set<string>>, k: string): Set<string> {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  return s;
}
