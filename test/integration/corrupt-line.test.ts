/**
 * A corrupt line in the middle of a room file is healed from a peer: with m3
 * stopped, one of its post lines is overwritten with garbage of the same length;
 * restarted, m3 moves the bad bytes to data/m3/quarantine/, fetches the event
 * from m1 or m2, and all three dumps are byte-identical again; `fbs status`
 * names the quarantine file until it is deleted.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ClusterStatus } from '../../lib/admin/status';
import { postEventId } from '../../lib/core/event';
import { checkpointPath, readCheckpoint } from '../../lib/storage/checkpoint-file';
import { call, converged, dumpEvents, FBS, RAISED_QUOTAS, startCluster, type TestCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const run = promisify(execFile);
const MACHINES = ['m1', 'm2', 'm3'];

let cluster: TestCluster;
t.before(async () => {
  cluster = await startCluster({ machines: MACHINES, workers: 1, quotas: RAISED_QUOTAS });
});
t.teardown(() => cluster.teardown());

const status = (): Promise<ClusterStatus> => cluster.status();

t.test('a corrupt line is moved to quarantine and its event fetched from a peer', async (t) => {
  const m1 = cluster.client('m1');
  await call(m1, 'Connect', { user: 'alice' });
  for (let i = 0; i < 12; i++) await call(m1, 'Post', { user: 'alice', id: `p${i}`, text: `post number ${i}` });
  const before = await converged(cluster, MACHINES);
  await cluster.stop('m3');

  // A post line in the middle of alice's room file, past m3's checkpoint (so the restart reads it).
  const machineDir = join(cluster.dir, 'data', 'm3');
  const file = join(machineDir, 'rooms', 'alice.jsonl');
  const bytes = readFileSync(file);
  const checkpoint = readCheckpoint(machineDir);
  const from = typeof checkpoint === 'string' ? 0 : (checkpoint.offsets[checkpoint.index.names.indexOf('alice')] ?? 0);
  const lines: { offset: number; text: string }[] = [];
  for (let at = 0; at < bytes.length; ) {
    const nl = bytes.indexOf(0x0a, at);
    lines.push({ offset: at, text: bytes.toString('utf8', at, nl) });
    at = nl + 1;
  }
  const candidates = lines.slice(0, -1).filter((l) => l.offset >= from && JSON.parse(l.text).kind === 'post');
  t.ok(candidates.length > 0, 'a post line in the middle, past the checkpoint');
  const victim = candidates[Math.floor(candidates.length / 2)];
  const lost = JSON.parse(victim.text) as { id: string; origin: string; seq: number };
  const garbage = Buffer.from(victim.text.replace(/^\{"id"/, '#"id"').replace(/post number/, 'p\u0000st number'));
  t.equal(garbage.length, Buffer.byteLength(victim.text), 'same length: no other line moves');
  garbage.copy(bytes, victim.offset);
  writeFileSync(file, bytes);

  await cluster.start('m3');
  const healed = await converged(cluster, MACHINES, 60_000);
  t.equal(healed, before, 'all three dumps are byte-identical again, and equal to before');
  t.equal(dumpEvents(healed).filter((e) => e.id === lost.id).length, 1, `${lost.origin}#${lost.seq} is stored once`);
  t.ok(dumpEvents(healed).some((e) => e.id === postEventId('alice', 'p0')), 'the dump holds the posts');

  const qdir = join(machineDir, 'quarantine');
  const qfiles = readdirSync(qdir);
  t.same(qfiles, [`alice.${victim.offset}.line`], 'one quarantine file, named for its room and offset');
  t.same(readFileSync(join(qdir, qfiles[0])), garbage, 'it holds the bad bytes');
  const now = readFileSync(file);
  t.equal(now.toString('utf8', victim.offset, victim.offset + garbage.length).trim(), '', 'the line is blanked in place');
  t.ok(
    cluster.logs.some((l) => l.machine === 'm3' && l.msg.startsWith('moved a corrupt room file line to quarantine')),
    'm3 says it moved the line aside',
  );

  const shown = await status();
  t.same(shown.quarantined, [{ machine: 'm3', file: join(qdir, qfiles[0]) }], 'fbs status shows the quarantine file');
  const { stdout } = await run(process.execPath, [FBS, 'status', '--config', cluster.configFile]);
  t.match(stdout, /QUARANTINED on m3: .*alice\.\d+\.line .*delete the file once checked/, 'and says what to do');
  rmSync(join(qdir, qfiles[0]));
  await waitFor('status clear once the operator deleted the file', async () => (await status()).quarantined.length === 0);

  // Writes go on: a post through m3 reaches everyone.
  const m3 = cluster.client('m3');
  await call(m3, 'Post', { user: 'alice', id: 'after', text: 'after healing' });
  const after = await converged(cluster, MACHINES, 60_000);
  t.ok(dumpEvents(after).some((e) => e.id === postEventId('alice', 'after')), 'a post after healing is everywhere');
});

t.test('a line damaged after a checkpoint covered it is healed once something reads it', async (t) => {
  const m1 = cluster.client('m1');
  await call(m1, 'Connect', { user: 'carol' });
  await call(m1, 'Connect', { user: 'dave' });
  await call(m1, 'Join', { user: 'dave', room: 'carol' });
  for (let i = 0; i < 12; i++) await call(m1, 'Post', { user: 'carol', id: `c${i}`, text: `carol says ${i}` });
  const before = await converged(cluster, MACHINES);
  // A start without a checkpoint writes one covering every room file.
  const machineDir = join(cluster.dir, 'data', 'm3');
  await cluster.stop('m3');
  rmSync(checkpointPath(machineDir));
  await cluster.start('m3');
  await cluster.stop('m3');
  const file = join(machineDir, 'rooms', 'carol.jsonl');
  const bytes = readFileSync(file);
  const checkpoint = readCheckpoint(machineDir);
  if (typeof checkpoint === 'string') throw new Error(`no checkpoint: ${checkpoint}`);
  const covered = checkpoint.offsets[checkpoint.index.names.indexOf('carol')];
  const at = bytes.indexOf(Buffer.from('carol says 5'));
  t.ok(at > 0 && at < covered, 'the damaged line lies inside what the checkpoint covers');
  bytes[at] = 0x00;
  writeFileSync(file, bytes);

  await cluster.start('m3');
  // The load trusts the checkpoint; reading dave's history through the index finds the damage.
  const m3 = cluster.client('m3');
  await call(m3, 'Poll', { user: 'dave', cursor: { seqs: {} }, max: 100 }).catch(() => undefined); // its worker restarts
  const healed = await converged(cluster, MACHINES, 90_000);
  t.equal(healed, before, 'all three dumps are byte-identical again');
  t.ok(
    cluster.logs.some((l) => l.machine === 'm3' && l.msg === 'index disagrees with its room file; rebuilding' && /corrupt/.test(String(l.found))),
    'm3 found the damaged line and rebuilt its index',
  );
  t.ok(readdirSync(join(machineDir, 'quarantine')).some((f) => f.startsWith('carol.')), 'the damaged line is in quarantine');
});
