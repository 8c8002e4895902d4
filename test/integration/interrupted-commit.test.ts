/**
 * A commit is durable once its write-ahead log record is fsynced; the room files
 * get the bytes afterwards. A writer killed in between, a torn record, or a reboot
 * that loses unsynced room-file pages must all end with the room files holding
 * every durable record, and an origin without a gap.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { eventToLine, type ChatEvent } from '../../lib/core/event';
import { encodeRecord } from '../../lib/core/wal-record';
import { readCheckpointWal } from '../../lib/storage/checkpoint-file';
import { ev } from '../helpers/events';
import { openJournal, range1, readRoomFiles, seqsOf, tempDir, type LogEntry } from '../helpers/storage';
import { waitFor } from '../helpers/wait';

const DIST = join(resolve(__dirname, '..', '..'), 'dist');
const lines = (events: ChatEvent[]): Buffer => Buffer.from(events.map((e) => `${eventToLine(e)}\n`).join(''));
/** The log segment writers append to now (the first one before any commit). */
const segment = (dir: string): string =>
  join(dir, 'wal', readdirSync(join(dir, 'wal')).filter((n) => n.endsWith('.log')).sort().pop() ?? '000000000000.log');

t.test('a commit whose writer died between its log record and its room files is finished at the next load', async (t) => {
  const dir = tempDir(t);
  const first = ev({ origin: 'm9.w0', seq: 1, author: 'alice' });
  const second = ev({ origin: 'm9.w0', seq: 2, author: 'bob' });
  // What a crash leaves: the record durable, bob's file written, alice's not yet.
  await openJournal(dir, 'm1.replicator'); // creates the layout and the log
  mkdirSync(join(dir, 'rooms'), { recursive: true });
  appendFileSync(segment(dir), encodeRecord([{ room: 'alice', offset: 0, data: lines([first]) }, { room: 'bob', offset: 0, data: lines([second]) }]));
  writeFileSync(join(dir, 'rooms', 'bob.jsonl'), lines([second]));

  const { journal, logs } = await openJournal(dir, 'm1.replicator');
  t.same(seqsOf(readRoomFiles(dir), 'm9.w0'), [1, 2], 'the missing event was appended');
  t.equal(journal.index.seqs.seqOf('m9.w0'), 2, 'the index holds the origin without a gap');
  t.notOk(logs.some((l) => /sequence gap/.test(l.msg)), 'no gap was settled past');

  const again = await openJournal(dir, 'm1.replicator');
  t.same(seqsOf(readRoomFiles(dir), 'm9.w0'), [1, 2], 'finishing it twice appends nothing more');
  t.equal(again.journal.index.seqs.seqOf('m9.w0'), 2);
});

t.test('a log record torn by a writer killed mid-append is cut off, and nothing of it is stored', async (t) => {
  const dir = tempDir(t);
  await openJournal(dir, 'm1.w0');
  const record = encodeRecord([{ room: 'alice', offset: 0, data: lines([ev({ origin: 'm9.w0', seq: 1, author: 'alice' })]) }]);
  appendFileSync(segment(dir), record.subarray(0, record.length - 9));
  const { journal, logs } = await openJournal(dir, 'm1.w0');
  t.equal(journal.index.seqs.seqOf('m9.w0'), 0, 'the torn record was not applied');
  t.ok(logs.some((l) => l.msg === 'cut off a torn write-ahead log record'), 'the cut is logged');
  t.equal(readFileSync(segment(dir)).length, 0, 'the log is whole again');
});

t.test('acknowledged posts whose room-file pages a reboot lost come back from the log', async (t) => {
  const dir = tempDir(t);
  const { journal } = await openJournal(dir, 'm1.w0');
  await journal.submit({ id: 'create/alice', kind: 'create', room: 'alice', author: 'alice', text: '' });
  const sizeBefore = readFileSync(join(dir, 'rooms', 'alice.jsonl')).length;
  const acked: ChatEvent[] = [];
  for (let i = 0; i < 5; i++) acked.push(await journal.submit({ id: `post/${i}`, kind: 'post', room: 'alice', author: 'alice', text: `p${i}` }));
  // A power loss: the room file's unsynced tail is gone, and the kernel boots anew.
  truncateSync(join(dir, 'rooms', 'alice.jsonl'), sizeBefore + 10);
  writeFileSync(join(dir, 'wal', 'boot'), 'an earlier boot');
  const { journal: after, logs } = await openJournal(dir, 'm1.w1');
  const posts = readRoomFiles(dir).flatMap((f) => f.events).filter((e) => e.kind === 'post');
  t.same(posts.map((e) => e.id), acked.map((e) => e.id), 'every acknowledged post is back in its room file');
  t.equal(after.index.seqs.seqOf('m1.w0'), 6, 'the origin has no gap');
  t.ok(logs.some((l) => l.msg === 'rewrote a room file tail from the write-ahead log'), 'the torn tail was rewritten');
});

t.test('full log segments before the checkpoint\'s are retired once the file system is synced, and a reboot after that loses nothing', async (t) => {
  const dir = tempDir(t);
  const small = { walSegmentBytes: 4096 };
  const { journal } = await openJournal(dir, 'm1.w0', [], {}, small);
  const rooms = Array.from({ length: 10 }, (_, i) => `u${i}`);
  for (const room of rooms) await journal.submit({ id: `create/${room}`, kind: 'create', room, author: room, text: '' });
  const segmentsSeen = new Set<string>();
  const logSegments = (): string[] => readdirSync(join(dir, 'wal')).filter((n) => n.endsWith('.log'));
  const round = (n: number): Promise<unknown> =>
    Promise.all(rooms.map((room) => journal.submit({ id: `post/${room}/${n}`, kind: 'post', room, author: room, text: 'x'.repeat(100) })));
  for (let n = 0; n < 20; n++) {
    await round(n);
    for (const name of logSegments()) segmentsSeen.add(name);
  }
  t.ok(segmentsSeen.size >= 10, `the log moved through ${segmentsSeen.size} segments`);
  t.ok(logSegments().length > 2, 'those from the (first) checkpoint\'s position on are kept: a load reads the rooms they name');
  t.ok(await journal.checkpoint(), 'a checkpoint at the log\'s end');
  const kept = readCheckpointWal(dir)?.segment ?? -1;
  await round(20); // the next segment starts: what lies before the checkpoint's goes
  await waitFor('full segments before the checkpoint\'s to be retired', () => logSegments().every((name) => Number(name.slice(0, 12)) >= kept), 60_000);
  t.ok(logSegments().length <= 3, `${logSegments().length} segments left`);

  writeFileSync(join(dir, 'wal', 'boot'), 'an earlier boot');
  const { journal: after } = await openJournal(dir, 'm1.w1', [], {}, small);
  t.equal(after.index.seqs.seqOf('m1.w0'), 10 + 21 * 10, 'every event is there, without a gap');
  t.equal(readRoomFiles(dir).flatMap((f) => f.events).length, 220, 'each once');
});

/** A process appending replicated batches of one origin spread over 20 rooms, forever; prints each committed seq. */
const APPENDER = `
const { Journal } = require(${JSON.stringify(join(DIST, 'lib', 'storage', 'journal.js'))});
const { RoomFiles } = require(${JSON.stringify(join(DIST, 'lib', 'storage', 'room-files.js'))});
const { createLogger } = require(${JSON.stringify(join(DIST, 'lib', 'common', 'log.js'))});
const log = createLogger({ machine: 'm1', role: 'appender' }, (l) => process.stderr.write(l));
const fail = (err) => { process.stderr.write(String(err)); process.exit(1); };
const journal = new Journal(new RoomFiles({ machineDir: process.argv[1], log, lockStaleMs: 2000, onCompromised: fail }), 'm1.replicator', log, undefined, fail);
(async () => {
  await journal.load();
  for (let seq = journal.index.seqs.seqOf('m9.w0'); ; ) {
    const batch = [];
    for (let i = 0; i < 200; i++) {
      seq++;
      const room = 'r' + (seq % 20);
      batch.push({ id: 'post/' + room + '/' + seq, origin: 'm9.w0', seq, kind: 'post', room, author: room, text: 'x', hlc: { wall: 1000 + seq, logical: 0 } });
    }
    await journal.appendStamped(batch);
    process.stdout.write(seq + '\\n');
  }
})();
`;

t.test('an origin stays gap-free on disk when its replicator is SIGKILLed mid-append, again and again', async (t) => {
  const dir = tempDir(t);
  const logs: LogEntry[] = [];
  let committed = 0;
  for (let round = 0; round < 6; round++) {
    const child = spawn(process.execPath, ['-e', APPENDER, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((r) => child.once('close', r));
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    });
    let reported = 0;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      reported += chunk.split('\n').filter(Boolean).length;
      const last = chunk.trim().split('\n').pop();
      if (last) committed = Math.max(committed, Number(last));
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    await waitFor(`round ${round}: a few batches committed`, () => reported >= 3, 30_000).catch((err) => {
      throw new Error(`${err.message}; the appender said: ${stderr.slice(-2000)}`);
    });
    process.kill(child.pid!, 'SIGKILL');
    await exited;

    const { journal } = await openJournal(dir, 'm1.replicator', logs);
    const seqs = seqsOf(readRoomFiles(dir), 'm9.w0');
    t.same(seqs, range1(seqs.length), `round ${round}: seqs 1..${seqs.length} on disk, no gap`);
    t.ok(seqs.length >= committed, `round ${round}: every acknowledged batch is there`);
    t.equal(journal.index.seqs.seqOf('m9.w0'), seqs.length, `round ${round}: the index has them all`);
  }
  const finished = logs.filter((l) => l.msg === 'finished a commit whose writer died').length;
  t.comment(`${finished} of 6 kills landed between a log record and its room files and were finished at the next load`);
});
