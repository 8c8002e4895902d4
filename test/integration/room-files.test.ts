/**
 * The storage layer on real files: several writer processes sharing one room
 * file, torn and corrupt lines, writers SIGKILLed mid-append, reloads and
 * retries. Writer processes run dist/test/helpers/append-worker.js, so build
 * first (`npx tsc -p .`).
 */
import t from 'tap';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEventId, eventToLine, postEventId, type ChatEvent } from '../../lib/core/event';
import { encodeRecord } from '../../lib/core/wal-record';
import { roomLock } from '../../lib/storage/room-files';
import { ev } from '../helpers/events';
import { findById, openJournal, range1, readAll, readRoomFiles, seqsOf, spawnWriter, tempDir, type LogEntry } from '../helpers/storage';
import { waitFor } from '../helpers/wait';

const post = (room: string, clientId: string, text = 'hello') => ({ id: postEventId(room, clientId), kind: 'post' as const, room, author: room, text });
const roomFile = (machineDir: string, room: string): string => join(machineDir, 'rooms', `${room}.jsonl`);
const warnings = (logs: LogEntry[], msg: string): LogEntry[] => logs.filter((l) => l.level === 'warn' && l.msg === msg);

t.test('several writer processes append to the same room file concurrently: nothing lost, torn or interleaved', async (t) => {
  const machineDir = join(tempDir(t), 'm1');
  const perWriter = 300;
  const origins = ['p1', 'p2', 'p3', 'p4'];
  const writers = origins.map((origin) =>
    spawnWriter(t, { machineDir, origin, rooms: ['shared', 'shared', 'side'], count: perWriter, inFlight: 12, waitForGo: true }),
  );
  await Promise.all(writers.map((w) => w.go())); // all start together
  const exits = await Promise.all(writers.map((w) => w.exited));
  exits.forEach((x, i) => t.same(x, { code: 0, signal: null }, `${origins[i]} finished cleanly${x.code ? `: ${writers[i].stderr()}` : ''}`));

  const files = readRoomFiles(machineDir);
  t.same(files.map((f) => f.room), ['shared', 'side']);
  for (const f of files) {
    t.same(f.corrupt, [], `${f.room}: every line parses`);
    t.equal(f.tail, 0, `${f.room}: ends on a whole line`);
  }
  const shared = files[0].events;
  const switches = shared.filter((e, i) => i > 0 && e.origin !== shared[i - 1].origin).length;
  t.ok(switches >= origins.length, `the writers' commits interleave in the shared file (${switches} switches between writers)`);
  const all = files.flatMap((f) => f.events);
  t.equal(all.length, perWriter * origins.length, 'every event stored');
  t.equal(new Set(all.map((e) => e.id)).size, all.length, 'each once');
  const stored = new Set(all.map((e) => e.id));
  for (const [i, w] of writers.entries()) {
    t.equal(w.committed.length, perWriter, `${origins[i]} reported all its posts`);
    t.ok(w.committed.every((id) => stored.has(id)), `${origins[i]}: every reported post is in the files`);
    t.same(seqsOf(files, origins[i]), range1(perWriter), `${origins[i]}: dense seqs 1..${perWriter}`);
  }
  for (const f of files) {
    const last = new Map<string, number>();
    const ordered = f.events.every((e) => {
      const ok = e.seq > (last.get(e.origin) ?? 0);
      last.set(e.origin, e.seq);
      return ok;
    });
    t.ok(ordered, `${f.room}: each origin's lines appear in seq order`);
  }
  const { journal } = await openJournal(machineDir, 'reader');
  t.equal(readAll(journal).length, all.length, 'a fresh load applies every event');
  t.equal(journal.index.seqs.heldBack(), 0, 'with nothing held back');
});

t.test('a torn last line is no event after a restart, and the next append repairs it and lands on a clean line', async (t) => {
  const machineDir = join(tempDir(t), 'm1');
  const { journal: first } = await openJournal(machineDir, 'w0');
  for (const n of [1, 2, 3]) await first.submit(post('ann', `c${n}`));
  const file = roomFile(machineDir, 'ann');
  const whole = statSync(file).size;
  const torn = '{"id":"post/ann/torn","origin":"w9","seq":1,"kind":"po';
  appendFileSync(file, torn); // a writer killed in the middle of its append

  // A load reads without the lock (writers go on meanwhile), so it leaves the repair to the next writer.
  const { journal, logs } = await openJournal(machineDir, 'w1');
  t.equal(findById(journal, 'post/ann/torn'), undefined, 'the torn line is not an event');
  const added = await journal.submit(post('ann', 'c4'));
  t.same(
    warnings(logs, 'repaired torn last line in room file').map((l) => [l.room, l.offset, l.bytes]),
    [['ann', whole, Buffer.byteLength(torn)]],
    'the repair is logged with the room, offset and size',
  );
  const [raw] = readRoomFiles(machineDir);
  t.same(raw.corrupt, [], 'every line parses after the next append');
  t.equal(raw.tail, 0);
  t.same(raw.events.map((e) => e.id), [1, 2, 3, 4].map((n) => postEventId('ann', `c${n}`)));
  t.same(raw.events[3], added);
});

t.test('a torn line another writer left (killed after its log record, mid-append) is made whole by the next commit of a writer that keeps running', async (t) => {
  const machineDir = join(tempDir(t), 'm1');
  const { journal, logs } = await openJournal(machineDir, 'w0');
  await journal.submit(post('ann', 'c1'));
  const file = roomFile(machineDir, 'ann');
  const whole = statSync(file).size;
  // What the other writer leaves: its log record durable (pending), half its line in the room file.
  const theirs = `${eventToLine(ev({ origin: 'w1', seq: 1, id: postEventId('ann', 'x'), room: 'ann', author: 'ann' }))}\n`;
  // It wrote under the room lock, once the running writer had let its lease go.
  await roomLock(machineDir, 10_000, () => t.fail('lock compromised')).run(async () => {
    appendFileSync(join(machineDir, 'wal', '000000000000.log'), encodeRecord([{ room: 'ann', offset: whole, data: Buffer.from(theirs) }]));
    appendFileSync(file, theirs.slice(0, 20));
  });
  await journal.submit(post('ann', 'c2'));
  t.ok(logs.some((l) => l.msg === 'finished a commit whose writer died'), 'its record was finished');
  const [raw] = readRoomFiles(machineDir);
  t.same(raw.corrupt, []);
  t.equal(raw.tail, 0, 'no torn tail');
  t.same(raw.events.map((e) => e.id), [postEventId('ann', 'c1'), postEventId('ann', 'x'), postEventId('ann', 'c2')], 'its line whole, the new one after it');
  t.ok(findById(journal, postEventId('ann', 'x')), 'the running writer took it in (its catch-up under the lock read the room again)');
});

t.test('a corrupt line in the middle is quarantined, its seq held open until a peer sends it, and later events wait for it', async (t) => {
  const machineDir = join(tempDir(t), 'm1');
  const { journal: first } = await openJournal(machineDir, 'w0');
  const stored = [];
  for (const n of [1, 2, 3]) stored.push(await first.submit(post('ann', `c${n}`)));
  const file = roomFile(machineDir, 'ann');
  const lines = readFileSync(file, 'utf8').split('\n');
  const offset = Buffer.byteLength(`${lines[0]}\n`);
  lines[1] = '#'.repeat(Buffer.byteLength(lines[1])); // bit rot in place
  writeFileSync(file, lines.join('\n'));

  const { journal, logs } = await openJournal(machineDir, 'w0'); // the same writer slot, restarted
  t.same(
    warnings(logs, 'moved a corrupt room file line to quarantine; its event will be fetched from a peer').map((l) => [l.room, l.offset, l.reason]),
    [['ann', offset, 'not JSON']],
    'the corrupt line is moved aside, named by its byte offset',
  );
  t.equal(readFileSync(join(machineDir, 'quarantine', `ann.${offset}.line`), 'utf8'), lines[1], 'the quarantine file holds its bytes');
  t.same(warnings(logs, 'sequence gap in stored events; waiting for a peer to send it').map((l) => [l.origin, l.from, l.to]), [['w0', 2, 2]], 'and the seq it cost');
  t.ok(findById(journal, postEventId('ann', 'c1')), 'the line before loads');
  t.notOk(findById(journal, postEventId('ann', 'c2')), 'the corrupt line is skipped');
  t.notOk(findById(journal, postEventId('ann', 'c3')), 'the line after it waits behind the hole');
  t.equal(journal.index.seqs.seqOf('w0'), 1, 'the vector stays below the hole: a pull asks peers for it');
  const added = await journal.submit(post('ann', 'c4'));
  t.equal(added.seq, 4, 'the writer continues after its highest stored seq, not in the gap');
  t.same(await journal.appendStamped([stored[1], stored[2]]), { appended: 1, gapped: 0 }, 'the peer\'s copy of the lost event is stored, the one stored past it is not again');
  t.equal(journal.index.seqs.seqOf('w0'), 4, 'and the vector moves over the hole');
  t.ok(findById(journal, postEventId('ann', 'c3')), 'the line after it is readable now');
  const { journal: again } = await openJournal(machineDir, 'w1');
  t.same(again.reads.lastPosts(['ann'], 10).map((e) => e.id), ['c1', 'c2', 'c3', 'c4'].map((id) => postEventId('ann', id)), 'a later load has everything, once, in key order');
  t.equal(again.index.seqs.seqOf('w0'), 4);
});

t.test('a writer SIGKILLed while appending leaves files that load cleanly with every reported post', async (t) => {
  const machineDir = join(tempDir(t), 'm1');
  // Big posts, many in flight: each commit is one large write, so a kill often lands inside it.
  const killed = { origin: 'doomed', rooms: ['bob'], count: -1, textBytes: 64_000, inFlight: 40 };
  const steady = spawnWriter(t, { machineDir, origin: 'steady', rooms: ['bob', 'ann'], count: -1, textBytes: 200, inFlight: 4 });
  const reported = new Set<string>();
  let torn = 0;
  for (let round = 1; round <= 4; round++) {
    const w = spawnWriter(t, { machineDir, ...killed });
    const at = 5 + Math.floor(Math.random() * 120); // a random moment, measured in commits
    await waitFor(`doomed writer to commit ${at} posts`, () => w.committed.length >= at, 30_000);
    // Then strike as soon as the file grows by more than the steady writer could: the
    // doomed writer's next append is under way.
    const size = statSync(roomFile(machineDir, 'bob')).size;
    await waitFor('the next big append to start', () => statSync(roomFile(machineDir, 'bob')).size > size + killed.textBytes, 30_000, 0);
    await w.kill();
    w.committed.forEach((id) => reported.add(id));
    torn += readRoomFiles(machineDir).filter((f) => f.tail > 0).length;
    t.comment(`round ${round}: killed after ${w.committed.length} reported posts`);
    // The surviving writer keeps committing past the dead one's lock and torn line.
    const before = steady.committed.length;
    await waitFor('the steady writer to go on committing', () => steady.committed.length >= before + 10, 30_000);
  }
  // The dead writer's log record was durable, so its torn line is rewritten whole from the log.
  const repairs = steady.stderr().split('\n').filter((l) => l.includes('"msg":"rewrote a room file tail from the write-ahead log"')).length;
  await steady.kill();
  steady.committed.forEach((id) => reported.add(id));
  t.comment(`${torn} torn tails seen across the kills`);
  t.equal(repairs, torn, 'the surviving writer repaired and logged each torn line it met');

  const { journal, logs } = await openJournal(machineDir, 'reader');
  const stored = new Set(readAll(journal).map((e) => e.id));
  const missing = [...reported].filter((id) => !stored.has(id));
  t.same(missing, [], `all ${reported.size} reported posts are stored`);
  t.same(warnings(logs, 'skipped corrupt line in room file'), [], 'no corrupt line anywhere');
  t.same(warnings(logs, 'sequence gap in stored events (lost line?)'), [], 'no seq gap');
  const files = readRoomFiles(machineDir);
  t.ok(files.every((f) => f.corrupt.length === 0 && f.tail === 0), 'after the load every file ends on a whole line');
  for (const origin of ['doomed', 'steady']) {
    const seqs = seqsOf(files, origin);
    t.same(seqs, range1(seqs.length), `${origin}: seqs dense across restarts (${seqs.length} stored)`);
  }
  t.equal(journal.index.seqs.heldBack(), 0);
});

t.test('the follow graph and posts survive re-loading the files in a new journal', async (t) => {
  const machineDir = join(tempDir(t), 'm1');
  const { journal } = await openJournal(machineDir, 'w0');
  const draft = (kind: 'create' | 'join' | 'leave', author: string, room: string, n: number) => ({
    id: kind === 'create' ? createEventId(author) : `${kind}/${author}/${room}/${n}`,
    kind,
    room,
    author,
    text: '',
  });
  for (const u of ['ann', 'bob', 'cat']) await journal.submit(draft('create', u, u, 0));
  await journal.submit(draft('join', 'ann', 'bob', 1));
  await journal.submit(draft('join', 'ann', 'cat', 2));
  await journal.submit(draft('leave', 'ann', 'cat', 3));
  await journal.submit(draft('join', 'cat', 'bob', 4));
  await Promise.all([journal.submit(post('bob', 'b1', 'first')), journal.submit(post('cat', 'k1', 'meow'))]);
  await journal.submit(post('bob', 'b2', 'second'));

  const view = (j: typeof journal) => ({
    rooms: [...j.index.rooms.names('')],
    ann: j.index.graph.following('ann'),
    cat: j.index.graph.following('cat'),
    bobFollowers: ['ann', 'cat'].filter((u) => j.index.graph.isFollowing(u, 'bob')),
    annTimeline: j.reads.lastPosts(j.index.graph.following('ann'), 20).map((e: ChatEvent) => `${e.author}: ${e.text}`),
    vector: [...j.index.seqs.vector()],
  });
  const { journal: reloaded } = await openJournal(machineDir, 'w1');
  t.same(view(reloaded), view(journal), 'the reloaded view equals the one that wrote it');
  t.same(view(reloaded).ann, ['ann', 'bob'], 'ann follows bob, not cat she left');
  t.same(view(reloaded).annTimeline, ['bob: first', 'bob: second']);
  const { journal: sameSlot } = await openJournal(machineDir, 'w0');
  t.equal((await sameSlot.submit(post('ann', 'a1'))).seq, journal.index.seqs.seqOf('w0') + 1, 'a restarted writer continues its seqs');
});

t.test('a retried submit with the same id stores once', async (t) => {
  const machineDir = join(tempDir(t), 'm1');
  const { journal } = await openJournal(machineDir, 'w0');
  const draft = post('ann', 'retry-me');
  const [a, b] = await Promise.all([journal.submit(draft), journal.submit({ ...draft })]);
  t.equal(a, b, 'two submits in flight at once resolve to one event');
  t.equal(await journal.submit(draft), a, 'a retry after the ack returns the stored event');
  const { journal: other } = await openJournal(machineDir, 'w1');
  t.same(await other.submit(draft), a, 'a retry reaching a restarted process returns the stored event');
  const { journal: stale } = await openJournal(machineDir, 'w2');
  await journal.submit(post('ann', 'retry-2'));
  // `stale` loaded before retry-2 was written and was never told: it still finds it under the lock.
  const found = await stale.submit(post('ann', 'retry-2'));
  t.equal(found.origin, 'w0', 'a retry reaching another writer that had not seen the post returns the stored one');
  const ids = readRoomFiles(machineDir).flatMap((f) => f.events.map((e) => e.id));
  t.same(ids, [draft.id, postEventId('ann', 'retry-2')], 'each post is in the files once');
});
