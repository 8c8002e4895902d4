/**
 * A machine's first start without a checkpoint (the upgrade of a data dir, or one
 * whose checkpoint was lost) builds it in one one-shot `fbs build-checkpoint`
 * process, spawned by one child; that process exits when done, so the children
 * never hold the build's peak memory, and every child then loads the checkpoint.
 */
import t from 'tap';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../../lib/common/proc-stat';
import { createEventId, eventToLine } from '../../lib/core/event';
import { ev } from '../helpers/events';
import { call, startCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';

t.test('the first start builds the checkpoint in a one-shot process, and every child loads it', async (t) => {
  const cluster = await startCluster({ workers: 2 });
  t.teardown(() => cluster.teardown());
  const client = cluster.client();
  for (const user of ['ann', 'bob', 'cat']) {
    await call(client, 'Connect', { user });
    for (let i = 0; i < 20; i++) await call(client, 'Post', { user, id: `${user}-${i}`, text: `post ${i}` });
  }
  await call(client, 'Join', { user: 'ann', room: 'bob' });
  const before = await cluster.dump('m1');
  await cluster.stop('m1');
  const machineDir = join(cluster.dir, 'data', 'm1');
  rmSync(join(machineDir, 'checkpoint'), { force: true });
  rmSync(join(machineDir, 'index'), { recursive: true, force: true });
  // As a data dir of the release before the write-ahead log: its first start replays a log it has not got.
  rmSync(join(machineDir, 'wal'), { recursive: true, force: true });

  const since = cluster.logs.length;
  await cluster.start('m1');
  const fresh = () => cluster.logs.slice(since);
  const built = fresh().filter((l) => l.msg === 'built checkpoint');
  t.equal(built.length, 1, 'one build');
  t.equal(built[0]?.role, 'checkpoint-builder', 'by the one-shot process');
  t.ok(Number(built[0]?.scanned) >= 63, `it scanned the room files (${String(built[0]?.scanned)} events)`);
  const done = fresh().filter((l) => l.msg === 'the checkpoint builder is done');
  t.equal(done.length, 1, 'one child waited for it');
  await waitFor('the builder gone', () => !isAlive(Number(done[0]?.builderPid)), 5_000);
  const loads = fresh().filter((l) => l.msg === 'loaded room files');
  t.equal(loads.length, 3, 'two workers and the replicator loaded');
  for (const l of loads) {
    t.match(l.from, /^checkpoint/, `${l.role} ${String(l.slot ?? '')} loaded the checkpoint`);
    // The build read every room file after the replay: a second sweep, and a second checkpoint, would only cost (at 10,000,000 events 100 MB more in that child).
    t.equal(l.sweep, null, `${l.role} ${String(l.slot ?? '')} read no room file again`);
  }
  t.equal(fresh().filter((l) => l.msg === 'wrote checkpoint').length, 1, 'the one checkpoint written is the build');
  t.ok(existsSync(join(machineDir, 'checkpoint')), 'the checkpoint is there');
  t.equal(await cluster.dump('m1'), before, 'the same events');
  await call(cluster.client(), 'Post', { user: 'ann', id: 'after', text: 'after the build' });
  t.pass('it serves a post');
});

t.test('the builder ends when the child that started it dies, and the next child builds', async (t) => {
  // A loaded 2-core host may take as long to start the builder as to start a machine.
  const startMs = 90_000;
  const cluster = await startCluster({ workers: 2, startMachines: false, startTimeoutMs: startMs });
  t.teardown(() => cluster.teardown());
  // Room files only, enough that a build takes a while: 40 rooms of 1,500 posts.
  const rooms = join(cluster.dir, 'data', 'm1', 'rooms');
  mkdirSync(rooms, { recursive: true });
  let seq = 0;
  for (let r = 0; r < 40; r++) {
    const user = `user${r}`;
    const lines = [eventToLine(ev({ origin: 'm1.aaaaaa.w0', seq: ++seq, kind: 'create', id: createEventId(user), room: user, author: user, text: '' }))];
    for (let i = 0; i < 1_500; i++) lines.push(eventToLine(ev({ origin: 'm1.aaaaaa.w0', seq: ++seq, author: user })));
    writeFileSync(join(rooms, `${user}.jsonl`), `${lines.join('\n')}\n`);
  }
  const starting = cluster.start('m1');
  const builder = await cluster.waitForLog('the builder started', (l) => l.msg === 'building checkpoint', startMs);
  const parent = cluster.logs.find((l) => l.msg === 'building the first checkpoint in a one-shot process');
  t.ok(parent, 'a child started it');
  process.kill(Number(parent?.pid), 'SIGKILL');
  await waitFor('the builder gone with its parent', () => !isAlive(builder.pid), 5_000);
  t.pass(`builder ${builder.pid} exited when its parent ${String(parent?.pid)} was killed`);
  await starting;
  t.pass('the re-forked child took over and the machine serves');
  t.ok(existsSync(join(cluster.dir, 'data', 'm1', 'checkpoint')), 'the machine has its checkpoint');
});
