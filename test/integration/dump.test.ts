/**
 * `fbs dump`'s canonical text (lib/admin/dump.ts) over real room files: equal
 * data gives byte-identical dumps, whatever order it was written in.
 */
import t from 'tap';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dumpMachine, writeDump } from '../../lib/admin/dump';
import { asEvent, compareEvents, createEventId, eventToLine, type ChatEvent } from '../../lib/core/event';
import { ev, rng, shuffled } from '../helpers/events';
import { openJournal, readAll, tempDir } from '../helpers/storage';

/** A machine's data: creates, follows, posts from three origins, with clock ties. */
function events(): ChatEvent[] {
  const out: ChatEvent[] = [];
  const seqs = new Map<string, number>();
  const add = (origin: string, fields: Partial<ChatEvent>, wall: number): void => {
    const seq = (seqs.get(origin) ?? 0) + 1;
    seqs.set(origin, seq);
    out.push(ev({ origin, seq, ...fields, hlc: { wall, logical: seq % 2 } }));
  };
  for (const [i, u] of ['ann', 'bob', 'cat'].entries()) {
    add(`m${i + 1}.w0`, { kind: 'create', id: createEventId(u), room: u, author: u, text: '' }, 100);
  }
  for (let i = 0; i < 60; i++) {
    const origin = `m${1 + (i % 3)}.w${i % 2}`;
    const author = ['ann', 'bob', 'cat'][i % 3];
    if (i % 7 === 0) add(origin, { kind: i % 14 ? 'join' : 'leave', id: `join/${author}/ann/${i}`, room: 'ann', author, text: '' }, 200 + i);
    else add(origin, { kind: 'post', id: `post/${author}/c${i}`, room: author, author, text: `post ${i} é🌍` }, 200 + Math.floor(i / 4));
  }
  return out;
}

/** Writes events into data/<machine>/rooms/<room>.jsonl in the given order. */
function writeMachine(dataDir: string, machine: string, list: ChatEvent[]): string {
  const rooms = join(dataDir, machine, 'rooms');
  mkdirSync(rooms, { recursive: true });
  for (const e of list) appendFileSync(join(rooms, `${e.room}.jsonl`), `${eventToLine(e)}\n`);
  return rooms;
}

t.test('two data dirs holding the same events written in different orders dump byte-identically', async (t) => {
  const all = events();
  const one = tempDir(t);
  const two = tempDir(t);
  writeMachine(one, 'm1', all);
  const rooms = writeMachine(two, 'm2', shuffled(all, rng(17)));
  // What a reader may also meet in a live dir: a blank line and a torn last line.
  appendFileSync(join(rooms, 'ann.jsonl'), '\n');
  appendFileSync(join(rooms, 'bob.jsonl'), '{"id":"post/bob/torn","origin":"m2.w0","se');
  const a = await dumpMachine(one, 'm1');
  const b = await dumpMachine(two, 'm2');
  t.equal(b, a, 'byte-identical');
  const lines = a.split('\n');
  t.equal(lines.pop(), '', 'ends with a newline');
  t.equal(lines.length, all.length, 'one line per event');
  const parsed = lines.map((l) => asEvent(JSON.parse(l)) as ChatEvent);
  t.same(parsed, [...all].sort(compareEvents), 'in the ordering key’s order');
  t.same(parsed.map(eventToLine), lines, 'each line in canonical form');
});

t.test('a post stored twice under two origins appears once, as the copy first in key order', async (t) => {
  const post = ev({ origin: 'm1.w0', seq: 1, id: 'post/ann/retried', room: 'ann', author: 'ann', text: 'hi', hlc: { wall: 500, logical: 0 } });
  const copy = { ...post, origin: 'm2.w1', seq: 4, hlc: { wall: 400, logical: 3 } }; // the retry reached m2 too
  const other = ev({ origin: 'm2.w1', seq: 5, id: 'post/ann/other', room: 'ann', author: 'ann', hlc: { wall: 450, logical: 0 } });
  const one = tempDir(t);
  const two = tempDir(t);
  writeMachine(one, 'm1', [post, copy, other]);
  writeMachine(two, 'm1', [other, copy, post]);
  const a = await dumpMachine(one, 'm1');
  t.equal(await dumpMachine(two, 'm1'), a, 'same dump from either order');
  t.equal(a, `${eventToLine(copy)}\n${eventToLine(other)}\n`, 'the retried post once, as its earliest copy');
});

t.test('a created room stored by two writers appears once', async (t) => {
  const create = ev({ origin: 'm1.w0', seq: 1, kind: 'create', id: createEventId('ann'), room: 'ann', author: 'ann', text: '', hlc: { wall: 9, logical: 0 } });
  const again = { ...create, origin: 'm1.w1', seq: 1, hlc: { wall: 9, logical: 0 } };
  const dir = tempDir(t);
  writeMachine(dir, 'm1', [again, create]);
  t.equal(await dumpMachine(dir, 'm1'), `${eventToLine(create)}\n`, 'the tie on the clock goes to the smaller origin');
});

t.test('a corrupt line does not stop the dump', async (t) => {
  const all = events();
  const clean = tempDir(t);
  const dirty = tempDir(t);
  writeMachine(clean, 'm1', all);
  const rooms = writeMachine(dirty, 'm1', []);
  const [first, ...rest] = all;
  writeFileSync(join(rooms, `${first.room}.jsonl`), `${eventToLine(first)}\nnot json at all\n`);
  for (const e of rest) appendFileSync(join(rooms, `${e.room}.jsonl`), `${eventToLine(e)}\n`);
  t.equal(await dumpMachine(dirty, 'm1'), await dumpMachine(clean, 'm1'));
});

t.test('a dump of data written through the journal matches its reload, and a machine without data dumps empty', async (t) => {
  const dataDir = tempDir(t);
  const { journal } = await openJournal(join(dataDir, 'm1'), 'm1.w0');
  await journal.submit({ id: createEventId('ann'), kind: 'create', room: 'ann', author: 'ann', text: '' });
  await Promise.all([1, 2, 3].map((n) => journal.submit({ id: `post/ann/${n}`, kind: 'post', room: 'ann', author: 'ann', text: `n${n}` })));
  const dump = await dumpMachine(dataDir, 'm1');
  const { journal: reloaded } = await openJournal(join(dataDir, 'm1'), 'm1.w1');
  const expected = readAll(reloaded).sort(compareEvents).map((e) => `${eventToLine(e)}\n`).join('');
  t.equal(dump, expected);
  t.equal(dump.split('\n').length - 1, 4);
  t.equal(await dumpMachine(dataDir, 'm2'), '', 'no data dir for the machine');
});

t.test('a dump bigger than memory is merged from sorted runs on disk, byte-identical to one sorted in memory', async (t) => {
  const all = events();
  const post = ev({ origin: 'm1.w0', seq: 99, id: 'post/ann/retried', room: 'ann', author: 'ann', text: 'hi', hlc: { wall: 500, logical: 0 } });
  const copy = { ...post, origin: 'm2.w1', seq: 99, hlc: { wall: 400, logical: 3 } };
  const dir = tempDir(t);
  writeMachine(dir, 'm1', shuffled([...all, post, copy], rng(3)));
  const inMemory = await dumpMachine(dir, 'm1');
  const chunks: string[] = [];
  await writeDump(dir, 'm1', (text) => chunks.push(text), 512); // a run per room file or two: several runs to merge
  t.equal(chunks.join(''), inMemory, 'the same text');
  t.equal(inMemory.split('\n').length - 1, all.length + 1, 'the retried post once');
  t.ok(inMemory.includes(eventToLine(copy)), 'as its copy first in key order');
});
