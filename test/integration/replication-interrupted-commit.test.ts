/**
 * A replicated commit writes several room files one after another, so a crash
 * between two of them can leave a later seq of an origin on disk without an
 * earlier one. The next load must finish that commit before anything reads the
 * files; otherwise the gap would be settled past and the missing event never
 * fetched again.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { eventToLine, type ChatEvent } from '../../lib/core/event';
import { ev } from '../helpers/events';
import { openJournal, range1, readRoomFiles, seqsOf, tempDir, type LogEntry } from '../helpers/storage';
import { waitFor } from '../helpers/wait';

const DIST = join(resolve(__dirname, '..', '..'), 'dist');
const lines = (events: ChatEvent[]): string => events.map((e) => `${eventToLine(e)}\n`).join('');

t.test('a replicated commit cut short between two room files is finished at the next load', async (t) => {
  const dir = tempDir(t);
  const first = ev({ origin: 'm9.w0', seq: 1, author: 'alice' });
  const second = ev({ origin: 'm9.w0', seq: 2, author: 'bob' });
  // What a crash leaves: the batch recorded, bob's file written, alice's not yet.
  mkdirSync(join(dir, 'rooms'));
  writeFileSync(join(dir, 'incoming.jsonl'), lines([first, second]));
  writeFileSync(join(dir, 'rooms', 'bob.jsonl'), lines([second]));

  const { journal, logs } = await openJournal(dir, 'm1.replicator');
  t.same(seqsOf(readRoomFiles(dir), 'm9.w0'), [1, 2], 'the missing event was appended');
  t.equal(journal.index.seqOf('m9.w0'), 2, 'the index holds the origin without a gap');
  t.notOk(logs.some((l) => /sequence gap/.test(l.msg)), 'no gap was settled past');

  const again = await openJournal(dir, 'm1.replicator');
  t.same(seqsOf(readRoomFiles(dir), 'm9.w0'), [1, 2], 'finishing it twice appends nothing more');
  t.equal(again.journal.index.seqOf('m9.w0'), 2);
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
  for (let seq = journal.index.seqOf('m9.w0'); ; ) {
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
    t.equal(journal.index.seqOf('m9.w0'), seqs.length, `round ${round}: the index has them all`);
  }
  const finished = logs.filter((l) => l.msg === 'completed an interrupted replicated commit').length;
  t.comment(`${finished} of 6 kills landed between two room files and were finished at the next load`);
});
