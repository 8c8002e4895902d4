/**
 * A history that grows for years: a start reads the checkpoint and scans only
 * what came after it; a checkpoint or index that is torn, corrupt or wrong is
 * detected and rebuilt from the room files, which stay the only truth; events are
 * read back from disk in bounded pages, from any cursor, each once.
 */
import t from 'tap';
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { dumpMachine } from '../../lib/admin/dump';
import { compareEvents, createEventId, eventToLine, postEventId, type ChatEvent } from '../../lib/core/event';
import { RECORD_BYTES } from '../../lib/core/index-record';
import { advance, type VersionVector } from '../../lib/core/version-vector';
import { encodeRecord } from '../../lib/core/wal-record';
import { checkpointPath, readCheckpointWal } from '../../lib/storage/checkpoint-file';
import type { Journal } from '../../lib/storage/journal';
import { ev, rng } from '../helpers/events';
import { loadReportOf as loaded, openJournal, readAll, readRoomFiles, spawnWriter, tempDir } from '../helpers/storage';
import { waitFor } from '../helpers/wait';

const ROOMS = ['ann', 'bob', 'cat', 'dan', 'eve'];

/** Creates the rooms, then `posts` posts spread over them, through `journal`. */
async function fill(journal: Journal, posts: number, tag = 'p'): Promise<void> {
  await Promise.all(ROOMS.map((r) => journal.submit({ id: createEventId(r), kind: 'create', room: r, author: r, text: '' })));
  for (let i = 0; i < posts; i += 50) {
    const batch = Array.from({ length: Math.min(50, posts - i) }, (_, k) => i + k);
    await Promise.all(
      batch.map((n) => {
        const room = ROOMS[n % ROOMS.length];
        return journal.submit({ id: postEventId(room, `${tag}${n}`), kind: 'post', room, author: room, text: `${tag} ${n}` });
      }),
    );
  }
}

/** How a journal's start loaded its state (the checkpoint, or why it scanned room files). */
const slots = (events: ChatEvent[]): string[] => events.map((e) => `${e.origin}#${e.seq}`).sort();

t.test('a start reads the checkpoint and scans only what was appended after it', async (t) => {
  const machineDir = join(tempDir(t), 'm1');
  const { journal } = await openJournal(machineDir, 'm1.aaaaaa.w0', [], { checkpointEvery: 1_000_000 });
  await fill(journal, 600);
  t.ok(await journal.checkpoint(), 'a checkpoint is written');
  await fill(journal, 90, 'late');
  const { journal: again } = await openJournal(machineDir, 'm1.aaaaaa.w1');
  t.equal(loaded(again).from, 'checkpoint');
  t.equal(loaded(again).scanned, 90, 'only the 90 posts after the checkpoint are read at start');
  t.same(slots(readAll(again)), slots(readAll(journal)), 'and it holds every event');
  t.same([...again.index.seqs.vector()], [...journal.index.seqs.vector()]);
});

const post = (room: string, id: string): Parameters<Journal['submit']>[0] => ({ id: postEventId(room, id), kind: 'post', room, author: room, text: id });
const walSegments = (machineDir: string): string[] => readdirSync(join(machineDir, 'wal')).filter((n) => n.endsWith('.log')).sort();

t.test('a start reads only the rooms the write-ahead log names past the checkpoint, and misses nothing written there', async (t) => {
  const machineDir = join(tempDir(t), 'm1');
  const { journal: a } = await openJournal(machineDir, 'm1.aaaaaa.w0', [], { checkpointEvery: 1_000_000 });
  await fill(a, 300);
  // B loads now and hears of nothing later (no doorbell): its offsets lag what A writes next.
  const { journal: b } = await openJournal(machineDir, 'm1.aaaaaa.w1', [], { checkpointEvery: 1_000_000 });
  for (let i = 0; i < 20; i++) await a.submit(post(i % 2 ? 'ann' : 'bob', `late${i}`));
  await a.submit({ id: createEventId('fay'), kind: 'create', room: 'fay', author: 'fay', text: '' }); // a new user's file
  const replicated = [1, 2, 3].map((seq) => ev({ origin: 'm2.bbbbbb.w0', seq, room: 'cat', author: 'cat' }));
  t.same(await a.appendStamped(replicated), { appended: 3, gapped: 0 }, 'a replicated batch');
  t.ok(await b.checkpoint(), 'the lagging process writes the checkpoint');
  // A writer SIGKILLed between its log record and its room file: the record is durable, dan's file lacks it.
  const pending = ev({ origin: 'm2.bbbbbb.w0', seq: 4, room: 'dan', author: 'dan' });
  const segment = join(machineDir, 'wal', walSegments(machineDir).at(-1) as string);
  appendFileSync(segment, encodeRecord([{ room: 'dan', offset: statSync(join(machineDir, 'rooms', 'dan.jsonl')).size, data: Buffer.from(`${eventToLine(pending)}\n`) }]));

  const { journal: c } = await openJournal(machineDir, 'm1.aaaaaa.w2');
  t.equal(loaded(c).sweep, null, 'no sweep of every room file');
  t.equal(loaded(c).rooms, 5, 'it looked at the five rooms the log names past the checkpoint (ann, bob, fay, cat, dan), not every file');
  const stored = slots(readAll(c));
  t.same(stored, slots(readRoomFiles(machineDir).flatMap((f) => f.events)), 'every event on disk is served, once');
  for (const e of [...replicated, pending]) t.ok(stored.includes(`${e.origin}#${e.seq}`), `${e.origin}#${e.seq} (replicated${e === pending ? ', its commit finished by the load' : ''})`);
  t.ok(c.index.rooms.has('fay'), 'the user created after the checkpoint exists');
  t.same(new Map(c.index.seqs.vector()), new Map(a.index.seqs.vector()).set('m2.bbbbbb.w0', 4), 'every origin complete, the finished commit included');
});

t.test('a checkpoint whose log segment was retired: the load reads every room file and misses nothing', async (t) => {
  const machineDir = join(tempDir(t), 'm1');
  const small = { walSegmentBytes: 4096, walKeptSegments: 1 };
  const { journal } = await openJournal(machineDir, 'm1.aaaaaa.w0', [], { checkpointEvery: 1_000_000 }, small);
  await fill(journal, 100);
  t.ok(await journal.checkpoint());
  const at = readCheckpointWal(machineDir);
  t.ok(at !== null, 'the checkpoint names a log position');
  const named = `${String(at?.segment).padStart(12, '0')}.log`;
  for (let round = 0; existsSync(join(machineDir, 'wal', named)); round++) {
    await fill(journal, 50, `r${round}-`);
    await new Promise((resolve) => setImmediate(resolve));
    if (round > 200) throw new Error('the segment is never retired');
  }
  const { journal: again } = await openJournal(machineDir, 'm1.aaaaaa.w1', [], {}, small);
  t.match(loaded(again).sweep, /log segment \d+ is gone \(retired\)/, 'the load says why it read every room file');
  t.equal(loaded(again).rooms, ROOMS.length, 'and it did');
  t.same(slots(readAll(again)), slots(readAll(journal)), 'every event, once');
  t.same([...again.index.seqs.vector()], [...journal.index.seqs.vector()]);
  const { journal: third } = await openJournal(machineDir, 'm1.aaaaaa.w2', [], {}, small);
  t.equal(loaded(third).sweep, null, 'that load wrote a checkpoint whose position the next load can use');
  t.same(slots(readAll(third)), slots(readAll(journal)));
});

t.test('a corrupt, truncated or old-format checkpoint is ignored and rebuilt from the files', async (t) => {
  const machineDir = join(tempDir(t), 'm1');
  const { journal } = await openJournal(machineDir, 'm1.aaaaaa.w0');
  await fill(journal, 300);
  t.ok(await journal.checkpoint());
  const good = readFileSync(checkpointPath(machineDir));
  for (const [what, bytes] of [
    ['truncated', good.subarray(0, Math.floor(good.length / 2))],
    ['corrupt', Buffer.from(good.map((b, i) => (i === 100 ? b ^ 0xff : b)))],
    ['of an older format', Buffer.concat([Buffer.from('FTCHK1\n'), good.subarray(7)])],
  ] as const) {
    writeFileSync(checkpointPath(machineDir), bytes);
    const { journal: again } = await openJournal(machineDir, 'm1.aaaaaa.w1');
    t.match(loaded(again).from, /room files \(checkpoint (fails its checksum|has no valid header \(or another version\))/, `${what}: the load says why it scanned the files`);
    t.equal(loaded(again).scanned, 305, `${what}: every event scanned again`);
    t.same(slots(readAll(again)), slots(readAll(journal)), `${what}: the same events`);
    t.ok(readFileSync(checkpointPath(machineDir)).length > 0, `${what}: a new checkpoint is written`);
    const { journal: third } = await openJournal(machineDir, 'm1.aaaaaa.w1');
    t.equal(loaded(third).from, 'checkpoint', `${what}: the next start uses it`);
  }
});

t.test('SIGKILL during checkpoint writes, at random points: the machine reopens consistent', async (t) => {
  const machineDir = join(tempDir(t), 'm1');
  const random = rng(20261129);
  const reported = new Set<string>();
  for (let round = 0; round < 6; round++) {
    const writer = spawnWriter(t, { machineDir, origin: 'm1.aaaaaa.w0', rooms: ROOMS, count: -1, inFlight: 1, checkpointEachCommit: true });
    const target = reported.size + 20 + Math.floor(random() * 60);
    await waitFor(`round ${round}: ${target} posts reported`, () => reported.size + writer.committed.length >= target, 30_000);
    await writer.kill();
    writer.committed.forEach((id) => reported.add(id));
    const { journal } = await openJournal(machineDir, 'm1.aaaaaa.w1');
    const events = readAll(journal);
    const ids = new Set(events.map((e) => e.id));
    const lost = [...reported].filter((id) => !ids.has(id));
    if (lost.length > 0) t.fail(`round ${round} (${loaded(journal).from}): ${lost.length} reported posts missing`);
    if (new Set(slots(events)).size !== events.length) t.fail(`round ${round}: an event read twice`);
    const onDisk = readRoomFiles(machineDir).flatMap((f) => f.events);
    t.same(slots(events), slots(onDisk), `round ${round} (loaded from ${String(loaded(journal).from).slice(0, 40)}): exactly the events on disk`);
    t.equal(journal.index.seqs.heldBack(), 0);
  }
  t.ok(existsSync(checkpointPath(machineDir)), 'checkpoints were written meanwhile');
});

t.test('an index that disagrees with its file is detected, and rebuilt on the next start', async (t) => {
  const machineDir = join(tempDir(t), 'm1');
  const { journal } = await openJournal(machineDir, 'm1.aaaaaa.w0');
  await fill(journal, 100);
  t.ok(await journal.checkpoint());
  const before = readAll(journal);
  // Point seq 10's record at seq 11's line: a record that lies about its event.
  const idx = join(machineDir, 'index', 'm1.aaaaaa.w0.idx');
  const buf = readFileSync(idx);
  const fd = openSync(idx, 'r+');
  writeSync(fd, buf, 10 * RECORD_BYTES, RECORD_BYTES, 9 * RECORD_BYTES);
  closeSync(fd);
  const { journal: reader, logs } = await openJournal(machineDir, 'm1.aaaaaa.w1');
  t.throws(() => readAll(reader), /index record m1\.aaaaaa\.w0#10 points at a line that holds m1\.aaaaaa\.w0#11/, 'reading through it fails loudly');
  t.ok(logs.some((l) => l.msg === 'index disagrees with its room file; rebuilding'), 'and says so');
  t.notOk(existsSync(checkpointPath(machineDir)), 'the checkpoint is dropped');
  t.notOk(existsSync(idx), 'so is the index');
  const { journal: rebuilt } = await openJournal(machineDir, 'm1.aaaaaa.w1');
  t.match(loaded(rebuilt).from, /room files/);
  t.same(slots(readAll(rebuilt)), slots(before), 'the rebuilt index finds every event');
});

t.test('a cursor older than anything in memory resumes with every event after it, once, page by page', async (t) => {
  const machineDir = join(tempDir(t), 'm1');
  const a = await openJournal(machineDir, 'm1.aaaaaa.w0', [], { checkpointEvery: 700 });
  const b = await openJournal(machineDir, 'm1.aaaaaa.w1', [], { checkpointEvery: 700 });
  // Two writers interleaving, 2,500+ events: past the 1,024-record reads and several checkpoints.
  await Promise.all([fill(a.journal, 1300, 'a'), fill(b.journal, 1300, 'b')]);
  const { journal } = await openJournal(machineDir, 'm1.aaaaaa.w2', [], { cachedRooms: 1, tailPosts: 3 });
  const all = readRoomFiles(machineDir).flatMap((f) => f.events);
  t.equal(loaded(journal).scanned, all.length, 'the writers wrote no checkpoint past their start: this start scans everything');
  const byKey = [...all].sort(compareEvents);
  const random = rng(5);
  for (const cut of [0, 1, 999, 1024, 1025, 2048, all.length - 1, all.length]) {
    // A reader that saw a random subset (each origin up to some seq) and resumes from there.
    const cursor: VersionVector = new Map();
    for (const e of byKey.slice(0, cut)) advance(cursor, e.origin, e.seq);
    for (const pageSize of [1 + Math.floor(random() * 20), 500]) {
      let at = new Map(cursor);
      const got: ChatEvent[] = [];
      for (let pages = 0; ; pages++) {
        const page = journal.reads.page(at, () => true, pageSize);
        t.ok(page.events.length <= pageSize);
        got.push(...page.events);
        at = page.cursor;
        if (page.done) break;
        if (pages > 5000) throw new Error('paging does not end');
      }
      const expected = all.filter((e) => e.seq > (cursor.get(e.origin) ?? 0));
      t.same(slots(got), slots(expected), `cut ${cut}, pages of ${pageSize}: every event after the cursor, once`);
      t.same(got.map((e) => e.id), [...got].sort(compareEvents).map((e) => e.id), `cut ${cut}, pages of ${pageSize}: in key order`);
    }
  }
  t.same(journal.reads.lastPosts(['ann'], 3).map((e) => e.text), byKey.filter((e) => e.room === 'ann' && e.kind === 'post').slice(-3).map((e) => e.text), 'a room not in memory is read from disk for its tail');
});

t.test('a data dir in the current format is upgraded, and its dump is byte-identical before and after', async (t) => {
  const dataDir = tempDir(t);
  const machineDir = join(dataDir, 'm1');
  const { journal } = await openJournal(machineDir, 'm1.aaaaaa.w0');
  await fill(journal, 400);
  // What the previous release left: room files (and an incarnation), no index, no checkpoint.
  rmSync(join(machineDir, 'index'), { recursive: true, force: true });
  rmSync(checkpointPath(machineDir), { force: true });
  const before = await dumpMachine(dataDir, 'm1');
  const { journal: upgraded } = await openJournal(machineDir, 'm1.aaaaaa.w1');
  t.match(loaded(upgraded).from, /room files \(no checkpoint yet\)/);
  t.ok(existsSync(checkpointPath(machineDir)) && existsSync(join(machineDir, 'index', 'm1.aaaaaa.w0.idx')), 'the first start built the index and the checkpoint');
  t.equal(await dumpMachine(dataDir, 'm1'), before, 'the dump is byte-identical');
  t.equal(readAll(upgraded).length, 405);
  const { journal: next } = await openJournal(machineDir, 'm1.aaaaaa.w1');
  t.equal(loaded(next).scanned, 0, 'the next start is the fast path');
});
