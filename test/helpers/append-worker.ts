/**
 * A writer process for storage tests: opens a machine dir through the real
 * Journal and RoomFiles and submits posts, keeping `inFlight` submits pending so
 * group commits batch them. It prints each post's id on stdout once its submit
 * resolved (the post is on disk), and its JSON log lines on stderr.
 *
 *   node dist/test/helpers/append-worker.js '{"machineDir": "...", "origin": "p1", "rooms": ["ann"], "count": 100}'
 *
 * count -1 appends until killed. With waitForGo it starts when a line arrives on stdin,
 * so a test can start several writers at the same moment.
 */
import { postEventId } from '../../lib/core/event';
import { createLogger, errorMessage } from '../../lib/common/log';
import { Journal } from '../../lib/storage/journal';
import { RoomFiles } from '../../lib/storage/room-files';

export interface AppendWorkerOptions {
  machineDir: string;
  origin: string;
  rooms: string[];
  count: number;
  textBytes?: number;
  inFlight?: number;
  lockStaleMs?: number;
  /** Load, log "append worker ready", then wait for a line on stdin before appending. */
  waitForGo?: boolean;
  /** Write the machine's checkpoint after every commit (to be killed in the middle of one). */
  checkpointEachCommit?: boolean;
  /** Bytes of a write-ahead log segment (small ones rotate often). */
  walSegmentBytes?: number;
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2]) as AppendWorkerOptions;
  const log = createLogger({ machine: 'test', role: 'append-worker', origin: opts.origin }, (line) => process.stderr.write(line));
  const die = (err: Error): never => {
    log.error('fatal storage error', { error: errorMessage(err) });
    process.exit(70);
  };
  const files = new RoomFiles({ machineDir: opts.machineDir, log, lockStaleMs: opts.lockStaleMs ?? 2000, onCompromised: die, walSegmentBytes: opts.walSegmentBytes });
  const journal = new Journal(files, opts.origin, log, undefined, die);
  await journal.load();
  if (opts.waitForGo) {
    log.info('append worker ready');
    await new Promise((resolve) => process.stdin.once('data', resolve));
  }
  let next = 0;
  const filler = 'x'.repeat(opts.textBytes ?? 40);
  const forever = opts.count < 0;

  const one = async (): Promise<void> => {
    while (forever || next < opts.count) {
      const i = next++;
      const room = opts.rooms[i % opts.rooms.length];
      const id = postEventId(room, `${opts.origin}-${process.pid}-${i}`); // unique across incarnations
      await journal.submit({ id, kind: 'post', room, author: room, text: `${opts.origin} #${i} ${filler}` });
      process.stdout.write(`${id}\n`); // synchronous on a pipe: printed means reported
      if (opts.checkpointEachCommit) await journal.checkpoint();
    }
  };
  await Promise.all(Array.from({ length: opts.inFlight ?? 8 }, one));
  log.info('append worker done', { next });
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`append worker failed: ${errorMessage(err)}\n`);
  process.exit(1);
});
