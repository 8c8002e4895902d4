/**
 * The power-loss file system (test/tools/lazyfs) keeps, at a cut, exactly what the
 * strict POSIX rules make durable: a file's bytes as of its last fsync, a
 * directory's entries as of its last fsync. Each rule is set up in a file of its
 * own before one cut; after the reboot (a new mount) each is checked. Real
 * syscalls through a real FUSE mount.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, fdatasyncSync, fsyncSync, linkSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LazyMount, lazyFsUnavailable, type CutReport } from '../../lib/chaos/lazy-mount';
import { ownChildren } from '../helpers/reaper';

ownChildren(); // the daemon dies with this file, and its mount is undone by the reaper

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  fsyncSync(fd);
  closeSync(fd);
}

/** Writes a file; `sync` fsyncs it. */
function put(path: string, text: string, sync: boolean, flag = 'w'): void {
  const fd = openSync(path, flag);
  writeSync(fd, text);
  if (sync) fdatasyncSync(fd);
  closeSync(fd);
}

const skip = lazyFsUnavailable();

t.test('lazyfs keeps what was synced, and only that', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ftchat-lazyfs-'));
  const disk = new LazyMount(join(dir, 'backing'), join(dir, 'mnt'));
  t.teardown(async () => {
    await disk.unmount();
    rmSync(dir, { recursive: true, force: true });
  });
  await disk.mount();
  const at = (name: string): string => join(disk.mountPoint, name);
  const firstBoot = disk.bootId;

  // Durable before the cut: names synced with their dir, and the bytes said below.
  put(at('synced'), 'kept', true);
  put(at('unsynced'), 'old', true);
  put(at('overwritten'), 'AAAA', true);
  put(at('truncated'), 'whole line\n', true);
  put(at('checkpoint'), 'old checkpoint', true);
  put(at('unlinked'), 'still here', true);
  put(at('named-empty'), '', false);
  mkdirSync(at('kept-dir'));
  mkdirSync(at('removed-dir'));
  syncDir(disk.mountPoint);
  put(at('kept-dir/inner'), 'inner', true);
  syncDir(at('kept-dir'));
  put(at('named-empty'), 'abc123', false); // named durably, bytes never synced: the zero-length file of ext4 and XFS

  // Not durable at the cut:
  put(at('unsynced'), ' + appended', false, 'a');
  put(at('synced'), ' + synced too', true, 'a');
  const fd = openSync(at('overwritten'), 'r+');
  writeSync(fd, 'B', 1);
  closeSync(fd);
  const tfd = openSync(at('truncated'), 'r+');
  ftruncateSync(tfd, 5);
  closeSync(tfd);
  put(at('checkpoint.tmp'), 'new checkpoint', true);
  renameSync(at('checkpoint.tmp'), at('checkpoint')); // its dir is not synced
  put(at('created-synced-file'), 'bytes synced, name not', true);
  unlinkSync(at('unlinked'));
  mkdirSync(at('new-dir'));
  syncDir(at('new-dir'));
  rmdirSync(at('removed-dir'));
  put(at('kept-dir/late'), 'late', true); // kept-dir not synced again
  linkSync(at('synced'), at('linked'));

  const before = { checkpoint: readFileSync(at('checkpoint'), 'utf8'), unsynced: readFileSync(at('unsynced'), 'utf8') };
  t.same(before, { checkpoint: 'new checkpoint', unsynced: 'old + appended' }, 'before the cut, reads see every write (the page cache)');

  const report: CutReport = await disk.cut();
  t.throws(() => readdirSync(disk.mountPoint), { code: 'EIO' }, 'once cut, every operation fails (the power is off)');
  await disk.boot();
  t.not(disk.bootId, firstBoot, 'the next mount is a new boot');
  t.equal(readFileSync(disk.env().FTCHAT_BOOT_ID_FILE, 'utf8').trim(), disk.bootId, 'the boot id file a process reads holds it');

  t.equal(readFileSync(at('synced'), 'utf8'), 'kept + synced too', 'a synced write survives');
  t.equal(readFileSync(at('unsynced'), 'utf8'), 'old', 'a write not synced is gone after the cut');
  t.equal(readFileSync(at('overwritten'), 'utf8'), 'AAAA', 'an unsynced overwrite is undone: the synced bytes come back');
  t.equal(readFileSync(at('truncated'), 'utf8'), 'whole line\n', 'an unsynced truncate is undone');
  t.equal(readFileSync(at('checkpoint'), 'utf8'), 'old checkpoint', 'a rename whose directory was not synced is undone');
  t.notOk(existsSync(at('checkpoint.tmp')), '... and its source, never named durably, is gone');
  t.notOk(existsSync(at('created-synced-file')), 'a created file whose directory was not synced is gone, though its bytes were synced');
  t.equal(readFileSync(at('unlinked'), 'utf8'), 'still here', 'an unlink whose directory was not synced is undone, with the synced bytes');
  t.equal(statSync(at('named-empty')).size, 0, 'a file named durably whose bytes were never synced is empty');
  t.notOk(existsSync(at('new-dir')), 'a new directory whose parent was not synced is gone, though it was synced itself');
  t.ok(statSync(at('removed-dir')).isDirectory(), 'a removed directory whose parent was not synced is back');
  t.same(readdirSync(at('kept-dir')), ['inner'], 'a file created in a synced directory after its last sync is gone');
  t.notOk(existsSync(at('linked')), 'so is a hard link');
  t.same(readdirSync(disk.mountPoint).sort(), ['checkpoint', 'kept-dir', 'named-empty', 'overwritten', 'removed-dir', 'synced', 'truncated', 'unlinked', 'unsynced'], 'the durable tree, nothing more (the control files are not listed)');
  t.match(report, { droppedFiles: 4, droppedBytes: ' + appended'.length + 'B'.length + 'abc123'.length, torn: null }, 'the cut reports what it dropped');
  t.ok(report.namesUndone >= 6, `and the names it put back: ${JSON.stringify(report)}`);

  t.test('a torn write keeps a random prefix of the last unsynced write', async (t) => {
    put(at('log'), 'head|', true);
    syncDir(disk.mountPoint);
    put(at('log'), 'first unsynced|', false, 'a');
    const last = 'second unsynced, torn somewhere in here';
    put(at('log'), last, false, 'a');
    const cut = await disk.cut({ tear: true, seed: 7 });
    await disk.boot();
    const text = readFileSync(at('log'), 'utf8');
    t.match(cut.torn, { path: '/log', of: last.length }, 'the last write of the last file written is the one torn');
    t.ok(cut.torn!.kept > 0 && cut.torn!.kept < last.length, `somewhere inside it (kept ${cut.torn!.kept} of ${last.length})`);
    t.equal(text, `head|first unsynced|${last.slice(0, cut.torn!.kept)}`, 'the writes before it reached the disk, it only in part');
  });

  t.test('an armed cut strikes at the named operation (after the steps before it), before it runs', async (t) => {
    put(at('state'), 'old state', true);
    await disk.arm({ when: 'before', following: [{ ops: 'fsync', path: '^/state\\.tmp$' }], ops: 'rename', path: '^/state\\.tmp$' });
    put(at('state.tmp'), 'new state', true);
    syncDir(disk.mountPoint);
    t.throws(() => renameSync(at('state.tmp'), at('state')), { code: 'EIO' }, 'the operation it struck fails');
    const cut = await disk.nextCut();
    t.equal(cut.at, 'before rename /state.tmp', 'the report says where it struck');
    await disk.boot();
    t.equal(readFileSync(at('state'), 'utf8'), 'old state', 'nothing of the struck operation stays');
    t.equal(readFileSync(at('state.tmp'), 'utf8'), 'new state', 'what was synced before it does');
  });

  t.test('sync -f (syncfs) through the tool\'s sync makes everything durable', async (t) => {
    put(at('by-syncfs'), 'no fsync of its own', false);
    mkdirSync(at('by-syncfs-dir'));
    execFileSync('sync', ['-f', disk.mountPoint], { env: { ...process.env, ...disk.env() } });
    put(at('after-syncfs'), 'too late', false);
    await disk.cut();
    await disk.boot();
    t.equal(readFileSync(at('by-syncfs'), 'utf8'), 'no fsync of its own', 'a file synced only by sync -f survives');
    t.ok(existsSync(at('by-syncfs-dir')), 'so does a directory');
    t.notOk(existsSync(at('after-syncfs')), 'what came after it does not');
  });
});
