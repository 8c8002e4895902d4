/**
 * `fbs dump`: a machine's data as one canonical text, one event per line in the
 * ordering key's order. Read-only (no lock, no repair); a post stored twice under
 * two slots (a retry that reached two machines) is shown once, the copy first in
 * key order, so machines holding the same events print byte-identical dumps.
 */
import { join } from 'node:path';
import { compareEvents, eventsToText, type ChatEvent } from '../core/event';
import { parseRoomLog } from '../core/room-log';
import { promises as fs } from 'node:fs';

export async function dumpMachine(dataDir: string, machine: string): Promise<string> {
  const roomsDir = join(dataDir, machine, 'rooms');
  let names: string[];
  try {
    names = (await fs.readdir(roomsDir)).filter((n) => n.endsWith('.jsonl')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
  const first = new Map<string, ChatEvent>();
  for (const name of names) {
    for (const e of parseRoomLog(await fs.readFile(join(roomsDir, name))).events) {
      const seen = first.get(e.id);
      if (!seen || compareEvents(e, seen) < 0) first.set(e.id, e);
    }
  }
  return eventsToText([...first.values()].sort(compareEvents));
}
