/**
 * One machine's storage on a power-loss disk (test/tools/lazyfs), without a cluster:
 * a writer process commits posts from a fresh data dir on, through many log
 * rotations, until the power is cut under it; after the reboot every post it was
 * told is on disk is there, once. And a data dir keeps the incarnation id it was
 * given at its first start. (Both failed before their fixes: a new log segment's
 * name, and the incarnation file's name and bytes, were never synced.)
 */
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { LazyMount, lazyFsUnavailable } from '../../lib/chaos/lazy-mount';
import { incarnationOf } from '../../lib/storage/incarnation';
import { readRoomFiles, spawnWriter, tempDir } from '../helpers/storage';
import { waitFor } from '../helpers/wait';

const skip = lazyFsUnavailable();

async function freshDisk(t: Test): Promise<LazyMount> {
  const dir = tempDir(t, 'ftchat-power-');
  const disk = new LazyMount(join(dir, 'backing'), join(dir, 'm1'));
  await disk.mount();
  t.teardown(() => disk.unmount());
  Object.assign(process.env, disk.env()); // this process's and its writers': the disk's boot id and `sync -f`
  return disk;
}

t.test('a fresh data dir keeps the incarnation id it was given, across a power cut right after', { skip }, async (t) => {
  const disk = await freshDisk(t);
  const id = incarnationOf(disk.mountPoint);
  await disk.cut();
  await disk.boot();
  t.equal(incarnationOf(disk.mountPoint), id, 'the same id after the reboot');
});

t.test('every post a writer was told is durable survives a power cut mid-write, through many log rotations', { skip }, async (t) => {
  const disk = await freshDisk(t);
  const writer = spawnWriter(t, { machineDir: disk.mountPoint, origin: 'p1', rooms: ['ann', 'bob', 'cy'], count: -1, walSegmentBytes: 4096, inFlight: 4 });
  await waitFor('300 posts committed', () => writer.committed.length >= 300, 60_000);
  const cut = await disk.cut({ tear: true, seed: 1 });
  await writer.kill();
  const acked = [...writer.committed];
  t.comment(`cut after ${acked.length} acknowledged posts: ${cut.droppedBytes} bytes in ${cut.droppedFiles} files dropped, ${cut.namesUndone} names undone`);
  await disk.boot();
  // The next writer's load replays the log after the new boot; it then writes nothing.
  const loader = spawnWriter(t, { machineDir: disk.mountPoint, origin: 'p2', rooms: ['ann'], count: 0 });
  t.match(await loader.exited, { code: 0 }, `the next load succeeds ${loader.stderr().slice(-300)}`);
  const counts = new Map<string, number>();
  for (const f of readRoomFiles(disk.mountPoint)) for (const e of f.events) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
  t.same(acked.filter((id) => counts.get(id) !== 1), [], `each of the ${acked.length} acknowledged posts is stored exactly once`);
});
