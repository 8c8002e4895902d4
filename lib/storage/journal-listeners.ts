/**
 * Who hears of a writer's events, and when: streams hear each event as it becomes
 * visible (a retried post's copy is not), the doorbell hears each commit, and
 * replication hears every event the index takes (a copy still fills its origin's
 * slot, so peers must get it too).
 */
import type { ChatEvent } from '../core/event';
import type { Commit } from './group-commit';

export class JournalListeners {
  private readonly appliedFns: { fn: (e: ChatEvent) => void; postsOf?: (room: string) => boolean }[] = [];
  private readonly committedFns: ((c: Commit) => void)[] = [];
  private readonly everyFns: ((e: ChatEvent) => void)[] = [];

  /**
   * Every event that becomes visible here, from any writer, in apply order (a retried
   * post's copy is not). With `postsOf`, a post another writer stored is read only if
   * its room is cached or `postsOf(room)` (the rest are learned from their index records).
   */
  onApplied(fn: (e: ChatEvent) => void, postsOf?: (room: string) => boolean): void {
    this.appliedFns.push({ fn, postsOf });
  }

  /** What this writer just committed (a doorbell for the machine's other readers). */
  onCommitted(fn: (c: Commit) => void): void {
    this.committedFns.push(fn);
  }

  /**
   * Every event read from or written to the files after the load, right after the
   * index took it, shown or not: a retried post's second copy still fills its
   * origin's slot, so replication must ship it too.
   */
  onEveryEvent(fn: (e: ChatEvent) => void): void {
    this.everyFns.push(fn);
  }

  applied(e: ChatEvent): void {
    for (const l of this.appliedFns) l.fn(e);
  }

  committed(c: Commit): void {
    for (const fn of this.committedFns) fn(c);
  }

  every(e: ChatEvent): void {
    for (const fn of this.everyFns) fn(e);
  }

  /** Whether some listener needs the posts of `room` that other writers stored (the rest are learned from index records). */
  wantPostsOf(room: string): boolean {
    return this.everyFns.length > 0 || this.appliedFns.some((l) => !l.postsOf || l.postsOf(room));
  }
}
