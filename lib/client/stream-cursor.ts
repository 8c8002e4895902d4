/**
 * What one chat session has already shown: the version vector to resume the
 * stream from (on any server: no gap, no duplicate) plus the ids printed, so an
 * event that reaches us twice (the Post ack and the stream, or a stream resumed
 * on a server that was behind) is printed once. Pure.
 */
import { advance, covers, vectorFromRecord, vectorToRecord, type VersionVector } from '../core/version-vector';

/** Ids remembered for de-duplication; the cursor does the exact work, this is a second line of defence. */
const MAX_REMEMBERED = 10_000;

export interface Stamped {
  id: string;
  origin: string;
  seq: number;
}

export class StreamCursor {
  private readonly vector: VersionVector;
  private readonly shown = new Set<string>();

  constructor(start?: Record<string, number | string> | null) {
    this.vector = vectorFromRecord(start);
  }

  /** The resume point to send with Subscribe. */
  toRecord(): Record<string, number> {
    return vectorToRecord(this.vector);
  }

  /** A streamed event: advances the cursor; true if it should be printed. */
  fromStream(e: Stamped): boolean {
    if (covers(this.vector, e.origin, e.seq)) return false;
    advance(this.vector, e.origin, e.seq);
    return this.remember(e.id);
  }

  /**
   * An event that did not come through the stream (history, a Post ack): printed
   * once, but the cursor stays put, because the stream may still owe us earlier
   * events of the same origin.
   */
  fromElsewhere(e: Stamped): boolean {
    return this.remember(e.id);
  }

  private remember(id: string): boolean {
    if (this.shown.has(id)) return false;
    this.shown.add(id);
    if (this.shown.size > MAX_REMEMBERED) this.shown.delete(this.shown.values().next().value as string);
    return true;
  }
}
