/**
 * A Pull's backlog: what the peer's vector lacks, up to what this machine held when
 * the peer pulled, read from disk a page at a time (EventReads), so a catch-up of any
 * size holds one page, not the history. A puller that takes stored lines
 * (PullRequest.lines) gets each event as the bytes of its line: no parse, no
 * protobuf Event, on this side.
 */
import type { ChatEvent } from '../core/event';
import type { VersionVector } from '../core/version-vector';
import type { Journal } from '../storage/journal';

/** A page holds at most this many events (a page of lines costs no encoding: more of them). */
const PAGE_EVENTS = 500;
const PAGE_LINES = 2_000;

/** One page: events, or stored lines, never both. */
export interface BacklogPage {
  events: ChatEvent[];
  lines: Buffer[];
}

export class BacklogPages {
  private cursor: VersionVector;
  private readonly upTo: VersionVector;
  /** Events still to send (an estimate: an index record lost for good is counted but never sent). */
  private left: number;
  private finished: boolean;

  constructor(private readonly journal: Journal, had: VersionVector, private readonly asLines: boolean) {
    this.cursor = new Map(had);
    this.upTo = journal.index.seqs.vector();
    this.left = countAfter(this.cursor, this.upTo);
    this.finished = this.left === 0;
  }

  /** Every page was read. */
  get done(): boolean {
    return this.finished;
  }

  /** How far the pages read so far reach. */
  get position(): VersionVector {
    return this.cursor;
  }

  /** Events of the backlog not read yet. */
  get remaining(): number {
    return this.finished ? 0 : this.left;
  }

  /** The next page, after a turn of the event loop (a page at a time: keep answering pings). */
  async next(): Promise<BacklogPage> {
    const { reads } = this.journal;
    let page: BacklogPage;
    if (this.asLines) {
      const p = reads.pageLines(this.cursor, PAGE_LINES, this.upTo);
      [page, this.cursor, this.finished] = [{ events: [], lines: p.lines }, p.cursor, p.done];
    } else {
      const p = reads.page(this.cursor, () => true, PAGE_EVENTS, this.upTo);
      [page, this.cursor, this.finished] = [{ events: p.events, lines: [] }, p.cursor, p.done];
    }
    this.left = Math.max(0, this.left - page.events.length - page.lines.length);
    await new Promise((resolve) => setImmediate(resolve));
    return page;
  }
}

/** Events in `upTo` (of the origins `counted` accepts) not covered by `cursor`. */
export function countAfter(cursor: Map<string, number>, upTo: Map<string, number>, counted: (origin: string) => boolean = () => true): number {
  let n = 0;
  for (const [origin, seq] of upTo) if (counted(origin)) n += Math.max(0, seq - (cursor.get(origin) ?? 0));
  return n;
}
