/**
 * Generates a long history as a fully replicated data dir for three machines, in
 * the on-disk format the server reads: DIR/<machine>/incarnation and
 * DIR/<machine>/rooms/<room>.jsonl, one eventToLine() line per event. Every user
 * is created, then joins (follows) and posts are interleaved; posts go through a
 * few writer origins on m1, m2 and m3, as if users posted through different
 * machines. Each origin's seqs are dense from 1 and its clock only increases.
 *
 * Events are produced in global time order and buffered per room; the buffers
 * are appended to the room files whenever they reach a fixed size, so memory does
 * not grow with the history. m1's room files are written once and copied to m2
 * and m3: a room file holds no machine-specific data, only the incarnation file
 * (which names the machine's own writer origins) differs.
 *
 *   node dist/bench/history-gen.js --events 1000000 --users 20000 --follows 20 --out DIR [--seed 1]
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { rng } from '../lib/chaos/rng';
import { createEventId, eventToLine, postEventId, type ChatEvent } from '../lib/core/event';
import { writerOrigin } from '../lib/core/origins';
import { machineDirOf, machinePath } from '../lib/storage/data-dir';

export const HISTORY_MACHINES = ['m1', 'm2', 'm3'];

export interface HistorySpec {
  events: number;
  users: number;
  /** Rooms each user joins. */
  follows: number;
  out: string;
  seed?: number;
  /** Worker slots per machine whose origins the posts are spread over. */
  slots?: number;
  /** Bytes of lines held before they are appended to the files. */
  bufferBytes?: number;
}

export interface HistoryStats {
  events: number;
  users: number;
  follows: number;
  creates: number;
  joins: number;
  posts: number;
  origins: string[];
  bytesPerMachine: number;
  /** Writing m1's files, and copying them to the other machines. */
  writeMs: number;
  copyMs: number;
  eventsPerSec: number;
}

/** Usernames of a generated history, in creation order. */
export function historyUser(i: number, users: number): string {
  return `u${String(i).padStart(String(users - 1).length, '0')}`;
}

/** The most users a history of `events` can have so that at least half of it is posts. */
export function usersFor(events: number, follows: number, wanted: number): number {
  return Math.max(0, Math.min(wanted, Math.floor(events / (2 * (1 + follows)))));
}

const WORDS = 'the a quiet loud day night coffee train rain sun build test ship fix deploy lunch meeting idea code review wow ok'.split(' ');

export async function generateHistory(spec: HistorySpec): Promise<HistoryStats> {
  const { events, users, follows, out } = spec;
  const seed = spec.seed ?? 1;
  const slots = spec.slots ?? 2;
  const bufferBytes = spec.bufferBytes ?? 64 << 20;
  if (users < 2 && events > 0) throw new Error('a history needs at least 2 users');
  if (follows >= users && users > 0) throw new Error(`--follows ${follows} needs more than ${follows} users`);
  const joins = users * follows;
  if (users + joins > events) throw new Error(`${users} users following ${follows} each take ${users + joins} events, more than --events ${events}`);
  if (existsSync(out) && readdirSync(out).length > 0) throw new Error(`${out} is not empty`);

  const random = rng(seed);
  const hex = (): string => Math.floor(random() * 0xffffff).toString(16).padStart(6, '0');
  const incarnations = Object.fromEntries(HISTORY_MACHINES.map((m) => [m, hex()]));
  const origins = HISTORY_MACHINES.flatMap((m) => Array.from({ length: slots }, (_, s) => writerOrigin(m, incarnations[m], s)));
  const seqs = new Float64Array(origins.length);
  const roomsOf = (m: string): string => machinePath(machineDirOf(out, m), 'rooms');
  for (const m of HISTORY_MACHINES) {
    mkdirSync(roomsOf(m), { recursive: true });
    writeFileSync(machinePath(machineDirOf(out, m), 'incarnation'), incarnations[m]);
  }

  // Per room, the lines not yet appended (index: the room's user number).
  const pending: string[][] = Array.from({ length: users }, () => []);
  let held = 0;
  let bytes = 0;
  const flush = (): void => {
    for (let r = 0; r < users; r++) {
      if (pending[r].length === 0) continue;
      appendFileSync(join(roomsOf('m1'), `${historyUser(r, users)}.jsonl`), pending[r].join(''));
      pending[r] = [];
    }
    bytes += held;
    held = 0;
  };

  // Everything happened in the last (events) ms, one event per ms, so anything written now sorts after it.
  const start = Date.now() - events - 60_000;
  const t0 = performance.now();
  let i = 0;
  const emit = (author: number, room: number, kind: ChatEvent['kind'], id: string, text: string): void => {
    // Mostly the author's home machine and slot, sometimes another (they posted through a different machine).
    const o = random() < 0.9 ? author % origins.length : Math.floor(random() * origins.length);
    const line = `${eventToLine({ id, origin: origins[o], seq: ++seqs[o], kind, room: historyUser(room, users), author: historyUser(author, users), text, hlc: { wall: start + i, logical: 0 } })}\n`;
    i++;
    pending[room].push(line);
    held += line.length; // ASCII only
  };
  const step = async (): Promise<void> => {
    if (held < bufferBytes) return;
    flush();
    await yieldToLoop(); // let a signal (Ctrl-C) be handled
  };

  for (let u = 0; u < users; u++) {
    emit(u, u, 'create', createEventId(historyUser(u, users)), '');
    await step();
  }
  // Each user's follows are distinct and never themselves: u+1+((a+k*b) mod (users-1)), k < follows, with
  // (follows-1)*b < users-1. Joins go round-robin (every user's first follow, then every second...).
  const spread = Math.max(1, Math.floor((users - 2) / Math.max(1, follows - 1)));
  const target = (u: number, k: number): number => {
    const a = (u * 2654435761) % (users - 1);
    const b = 1 + ((u * 40503) % spread);
    return (u + 1 + ((a + k * b) % (users - 1))) % users;
  };
  let joined = 0;
  const posts = events - users - joins;
  let posted = 0;
  while (joined + posted < joins + posts) {
    // Joins and posts interleaved evenly at random.
    if (random() * (joins + posts - joined - posted) < joins - joined) {
      const u = joined % users;
      const k = Math.floor(joined / users);
      const room = target(u, k);
      emit(u, room, 'join', `join/${historyUser(u, users)}/${historyUser(room, users)}/g${joined.toString(36)}`, '');
      joined++;
    } else {
      // Some users post far more than others (a square of a uniform draw).
      const author = Math.floor(random() * random() * users);
      const words = Array.from({ length: 3 + Math.floor(random() * 10) }, () => WORDS[Math.floor(random() * WORDS.length)]);
      emit(author, author, 'post', postEventId(historyUser(author, users), `g${posted.toString(36)}`), `${words.join(' ')} #${posted}`);
      posted++;
    }
    await step();
  }
  flush();
  const writeMs = performance.now() - t0;

  const t1 = performance.now();
  for (const m of HISTORY_MACHINES.slice(1)) {
    // cp copies 100,000 small files far faster than a loop of copyFile calls; a reflink where the file system can.
    execFileSync('cp', ['-a', '--reflink=auto', `${roomsOf('m1')}/.`, roomsOf(m)]);
  }
  const copyMs = performance.now() - t1;
  return {
    events: i,
    users,
    follows,
    creates: users,
    joins,
    posts,
    origins,
    bytesPerMachine: bytes,
    writeMs: Math.round(writeMs),
    copyMs: Math.round(copyMs),
    eventsPerSec: Math.round((i * 1000) / (writeMs + copyMs)),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '1000000' },
      users: { type: 'string', default: '100000' },
      follows: { type: 'string', default: '20' },
      out: { type: 'string' },
      seed: { type: 'string', default: '1' },
    },
  });
  if (!values.out) throw new Error('--out DIR is required');
  const stats = await generateHistory({
    events: Number(values.events),
    users: Number(values.users),
    follows: Number(values.follows),
    out: values.out,
    seed: Number(values.seed),
  });
  console.log(JSON.stringify(stats, null, 2));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`history-gen: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
