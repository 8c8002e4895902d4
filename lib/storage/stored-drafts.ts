/**
 * The stored event a draft's id names, if any: a retried request resolves to what
 * its first try stored instead of storing it twice (a room's creation, or a post
 * still in its room's tail; join and leave ids are made fresh for each request).
 */
import type { ChatEvent } from '../core/event';
import type { EventIndex } from '../core/event-index';
import type { RoomTails } from '../core/room-tails';
import type { RoomReader } from './room-reader';
import type { Draft } from './group-commit';

export class StoredDrafts {
  constructor(
    private readonly index: EventIndex,
    private readonly tails: RoomTails,
    private readonly reader: RoomReader,
  ) {}

  find(d: Draft): ChatEvent | undefined {
    if (d.kind === 'create') {
      // A proved create is stored beside a room's creations without proof (from before names were settled by a majority).
      if (d.proof) return this.index.rooms.has(d.room) ? this.reader.readCreates(d.room).find((e) => e.proof && e.text === d.text) : undefined;
      // A claim (a key for a room created before keys) is stored beside the keyless creation.
      const first = this.index.rooms.has(d.room) ? this.reader.readFirst(d.room) : null;
      return first && (first.text !== '' || d.text === '') ? first : undefined;
    }
    if (d.kind === 'post') return this.tails.get(d.room).get(d.id);
    return undefined;
  }
}
