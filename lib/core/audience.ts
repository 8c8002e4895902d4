/**
 * Who is shown an event: the one rule a live stream (deciding as each event is
 * applied) and a resumed stream or Poll (deciding later, over events read from
 * disk, with the follow graph as it is then) both apply, so they agree.
 *
 * A user is shown everything in their own room, their own joins and leaves, and
 * the events of a room they follow. After a leave they are still shown what sorts
 * before it (what was posted while they followed): a live stream showed those as
 * they came, and a stream resumed after the leave must not lose them. The rule
 * reads only the pair's deciding join or leave (all the compact graph keeps), so
 * a resumed stream agrees with the live one when the user did not join the room
 * after the resume's cursor; one that did is also shown the room's events between
 * the cursor and that join. (In chat mode a user's joins are refused on the
 * machine, so only a second session elsewhere can join inside that window.)
 * Pure.
 */
import { compareHlc, type Hlc } from './hlc';
import type { EventKind } from './event';
import type { Membership } from './follow-graph';

/** What the rule reads of an event: an index record (with its origin) says as much as the event. */
export interface Placed {
  kind: EventKind;
  room: string;
  hlc: Hlc;
  origin: string;
}

/**
 * Whether `user` is shown `e`. `byUser`: the event's author is `user`; `membership`:
 * the follow graph's deciding join or leave of (user, e.room), if any.
 */
export function isShown(user: string, e: Placed, byUser: boolean, membership: Membership | undefined): boolean {
  if (e.room === user) return true;
  if (byUser && (e.kind === 'join' || e.kind === 'leave')) return true;
  if (!membership) return false;
  return membership.joined || sortsBefore(e, membership);
}

function sortsBefore(e: Placed, m: Membership): boolean {
  return (compareHlc(e.hlc, m.hlc) || (e.origin < m.origin ? -1 : e.origin > m.origin ? 1 : 0)) < 0;
}
