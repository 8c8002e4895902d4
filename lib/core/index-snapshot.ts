/**
 * An event index (event-index.ts) as a checkpoint keeps it, and back. Pure.
 */
import { park, type Proved } from './event-effects';
import { EventIndex, type IndexSnapshot } from './event-index';
import { FollowGraph } from './follow-graph';
import { NameNumbers } from './name-numbers';
import { NameTable } from './name-table';
import { RoomDirectory } from './room-directory';
import { RoomKeyTable } from './room-key-table';

export function snapshotIndex(index: EventIndex): IndexSnapshot {
  const rooms = Int32Array.from(index.rooms.names(''), (room) => index.names.intern(room));
  const names = index.names.slice();
  return {
    names,
    vector: Object.fromEntries(index.seqs.vector()),
    rooms,
    pending: index.seqs.heldEvents(),
    graph: index.graph.snapshot(names.length),
    keys: index.keys.snapshot(),
    parked: [...index.parked.values()].flat(),
    authored: index.authored.snapshot(names.length),
  };
}

export function indexFromSnapshot(s: IndexSnapshot, proved?: Proved): EventIndex {
  const index = new EventIndex(proved);
  index.names = new NameTable(s.names);
  index.graph = FollowGraph.fromSnapshot(s.graph, index.names);
  index.keys = RoomKeyTable.fromSnapshot(s.keys, index.names);
  for (const e of s.parked) park(index.parked, e.kind === 'post' ? e.room : e.author, e);
  index.authored = new NameNumbers(index.names, s.authored.slice());
  for (const [origin, seq] of Object.entries(s.vector)) index.seqs.settle(origin, seq);
  const rooms: string[] = new Array(s.rooms.length);
  for (let i = 0; i < s.rooms.length; i++) {
    const name = index.names.name(s.rooms[i]);
    if (name === undefined) throw new Error('index snapshot: a room id names nothing');
    rooms[i] = name;
  }
  index.rooms = RoomDirectory.fromSorted(rooms);
  for (const e of s.pending) index.offer(e);
  return index;
}
