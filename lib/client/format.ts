/**
 * How events and room lists look on the client's screen. Pure. Text from the
 * server is stripped of control characters so no one can post terminal escapes.
 */
import { withoutControlChars } from '../core/control-chars';

/** Control characters (see control-chars) shown as '?', so nothing typed or stored can steer the terminal. */
const safe = withoutControlChars;

export interface Printable {
  kind: string;
  room: string;
  author: string;
  text: string;
}

export interface RoomLine {
  name: string;
  own: boolean;
  following: boolean;
}

/** One line for an event, or null for events the user is not shown (room creation). */
export function formatEvent(e: Printable): string | null {
  switch (e.kind) {
    case 'post':
      return `${safe(e.author)}: ${safe(e.text)}`;
    case 'join':
      return `${safe(e.author)} joined ${safe(e.room)}`;
    case 'leave':
      return `${safe(e.author)} left ${safe(e.room)}`;
    default:
      return null;
  }
}

export interface RoomPage {
  rooms: RoomLine[];
  /** What `list` searched for ('' for every room). */
  prefix: string;
  /** The server has another page. */
  more: boolean;
}

export const MORE_ROOMS_HINT = "more rooms: type 'more' for the next page, or 'list <prefix>' for names starting with <prefix>";

/** A page of `list`, a room a line; '*' marks the ones the user follows (their own included). */
export function formatRooms(page: RoomPage): string[] {
  const lines = page.rooms.map((r) => {
    const mark = r.own || r.following ? '*' : ' ';
    const note = r.own ? ' (your room)' : r.following ? ' (following)' : '';
    return `${mark} ${safe(r.name)}${note}`;
  });
  if (lines.length === 0) lines.push(page.prefix ? `no rooms start with '${safe(page.prefix)}'` : 'no rooms yet');
  if (page.more) lines.push(MORE_ROOMS_HINT);
  return lines;
}

