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
  /** When it was stamped (wall: ms), for the local time shown in a terminal. */
  hlc?: { wall: number } | null;
}

/** Shows an event's local time (in a terminal), as of `now`; absent: no time (a pipe). */
export interface Clock {
  now: number;
}

export interface RoomLine {
  name: string;
  own: boolean;
  following: boolean;
}

/**
 * One line for an event, or null for events the user is not shown (room creation).
 * With a clock, the line starts with the event's local time: `[14:02] alice: hi`.
 */
export function formatEvent(e: Printable, clock?: Clock): string | null {
  const line = eventText(e);
  const wall = Number(e.hlc?.wall);
  return line !== null && clock && wall > 0 ? `[${localTime(wall, clock.now)}] ${line}` : line;
}

function eventText(e: Printable): string | null {
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

/** `14:02` for a time on the same local day as `now`, else `2026-12-05 14:02`. */
export function localTime(wallMs: number, nowMs: number): string {
  const d = new Date(wallMs);
  const n = new Date(nowMs);
  const two = (x: number): string => String(x).padStart(2, '0');
  const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
  const sameDay = d.getFullYear() === n.getFullYear() && d.getMonth() === n.getMonth() && d.getDate() === n.getDate();
  return sameDay ? hm : `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${hm}`;
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

