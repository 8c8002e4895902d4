/**
 * The user directory behind `list`: room names kept sorted, so a page of the names
 * with a prefix, after a given name, costs a binary search plus the page
 * (O(log n + limit)) however many users exist, never a scan and sort of them all;
 * and the rooms by their case-folded names (name-folds.ts: a name is unique without
 * regard to case). Pure: the chat service feeds it and serves its pages.
 */
import { NameFolds } from './name-folds';
import { MAX_USERNAME_CHARS } from './usernames';

export interface Page {
  names: string[];
  /** More names follow the last one. */
  more: boolean;
}

export class RoomDirectory {
  private sorted: string[];
  private readonly folds = new NameFolds();

  constructor(names: Iterable<string> = []) {
    this.sorted = [...new Set(names)].sort();
    for (const name of this.sorted) this.folds.add(name);
  }

  /** Names already in order (a checkpoint's) are taken over without a sort, after one pass to check. */
  static fromSorted(names: string[]): RoomDirectory {
    for (let i = 1; i < names.length; i++) if (!(names[i - 1] < names[i])) return new RoomDirectory(names);
    const dir = new RoomDirectory();
    dir.sorted = names;
    for (const name of names) dir.folds.add(name);
    return dir;
  }

  get size(): number {
    return this.sorted.length;
  }

  has(name: string): boolean {
    const i = lowerBound(this.sorted, name);
    return this.sorted[i] === name;
  }

  /** Inserts in place (a memmove of pointers: cheap next to the event that created the room). */
  add(name: string): void {
    const i = lowerBound(this.sorted, name);
    if (this.sorted[i] !== name) this.sorted.splice(i, 0, name);
    this.folds.add(name);
  }

  /** The rooms spelled like `name` without regard to case, `name` itself included if it exists. */
  spellings(name: string): string[] {
    return this.folds.spellings(name, (room) => this.has(room));
  }

  /** Names starting with `prefix`, after `after` ('' from the start), in name order. */
  names(prefix: string, after = ''): Generator<string> {
    return walk(this.sorted, prefix, after);
  }

  /** At most `limit` of those names. */
  page(prefix: string, after: string, limit: number): Page {
    return take(this.names(prefix, after), limit);
  }
}

/**
 * One page of `list`: the rooms the user follows (own room included) come first,
 * then the others, each part in name order, at most `limit` names in all. A user
 * following fewer than `limit` rooms sees all of them on the first page; one
 * following thousands pages through them like through the others, so no page
 * grows with the number of follows either.
 */
export interface ListPage {
  following: string[];
  others: string[];
  /** '' when this was the last page. */
  next: string;
}

/**
 * `followed` must be sorted. The page token (opaque to clients) is the part and the
 * last name shown: 'f:<name>' or 'o:<name>'; '' is the first page. A name, not an
 * offset: rooms created meanwhile do not shift the pages, and any worker of any
 * machine (the client may fail over) goes on from it. Null for a token this module
 * did not make.
 */
export function listPage(dir: RoomDirectory, followed: readonly string[], prefix: string, token: string, limit: number): ListPage | null {
  const at = token === '' ? { part: 'f', after: '' } : /^(?<part>[fo]):(?<after>.*)$/s.exec(token)?.groups;
  if (!at) return null;
  const page: ListPage = { following: [], others: [], next: '' };
  if (at.part === 'f') {
    const mine = take(walk(followed, prefix, at.after), limit);
    page.following = mine.names;
    if (mine.more) return { ...page, next: `f:${mine.names.at(-1)}` };
  }
  const from = at.part === 'o' ? at.after : '';
  const isFollowed = new Set(followed);
  const others = take(filter(dir.names(prefix, from), (n) => !isFollowed.has(n)), limit - page.following.length);
  page.others = others.names;
  if (others.more) page.next = `o:${others.names.at(-1) ?? from}`;
  return page;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;
/** A listed room at worst, encoded: the longest name, both flags, the field's tag and length. */
const ROOM_BYTES = MAX_USERNAME_CHARS + 8;
/** The page token (one more name) and the message's own framing. */
const PAGE_OVERHEAD_BYTES = MAX_USERNAME_CHARS + 32;

/**
 * The page size the server grants: the asked one (0: the default) capped so that a
 * page of the longest names fits in `maxBytes`, whatever the number of users.
 */
export function pageSize(asked: number, maxBytes: number): number {
  const fits = Math.floor((maxBytes - PAGE_OVERHEAD_BYTES) / ROOM_BYTES);
  return Math.max(1, Math.min(asked || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, fits));
}

/** First index whose name is >= `name`. */
function lowerBound(sorted: readonly string[], name: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < name) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function* walk(sorted: readonly string[], prefix: string, after: string): Generator<string> {
  let i = lowerBound(sorted, prefix > after ? prefix : after);
  if (sorted[i] === after) i++;
  for (; i < sorted.length && sorted[i].startsWith(prefix); i++) yield sorted[i];
}

function* filter(names: Iterable<string>, keep: (name: string) => boolean): Generator<string> {
  for (const n of names) if (keep(n)) yield n;
}

/** The first `limit` names, and whether one more follows (it is read, not kept). */
function take(names: Iterator<string>, limit: number): Page {
  const out: string[] = [];
  for (;;) {
    const r = names.next();
    if (r.done) return { names: out, more: false };
    if (out.length === limit) return { names: out, more: true };
    out.push(r.value);
  }
}
