/** A slot's restart count outlives the primary that counted it, and a damaged ledger file counts from zero. */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { duration } from '../../lib/admin/status';
import { RestartLedger } from '../../lib/storage/restart-ledger';

const dir = mkdtempSync(join(tmpdir(), 'ftchat-ledger-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test("a new primary reads its predecessor's counts", async (t) => {
  const first = new RestartLedger(dir);
  first.bump('worker.0');
  first.bump('worker.0', 'replicator.0', 'guardian.1');
  const next = new RestartLedger(dir);
  t.same([next.count('worker.0'), next.count('worker.1'), next.count('replicator.0'), next.count('guardian.1')], [2, 0, 1, 1]);
  t.same(next.byRole(), { worker: 2, replicator: 1, guardian: 1 });
  next.elected();
  t.equal(new RestartLedger(dir).elections, 1, 'and the elections that started a primary');
});

t.test('a damaged or hostile file counts from zero, keeping what is sound', async (t) => {
  writeFileSync(join(dir, 'restarts.json'), '{"slots": {"worker.0": 3');
  t.equal(new RestartLedger(dir).count('worker.0'), 0, 'torn JSON: nothing');
  for (const junk of ['null', '[]', '"x"', '{"slots": null}']) {
    writeFileSync(join(dir, 'restarts.json'), junk);
    t.same(new RestartLedger(dir).byRole(), {}, junk);
  }
  writeFileSync(join(dir, 'restarts.json'), '{"slots": {"worker.0": 3, "worker.1": -1, "replicator.0": 1.5, "x": 2}, "elections": "many"}');
  const ledger = new RestartLedger(dir);
  t.same([ledger.count('worker.0'), ledger.count('worker.1'), ledger.count('replicator.0'), ledger.elections], [3, 0, 0, 0]);
  t.same(ledger.byRole(), { worker: 3 });
});

t.test('uptime reads as the largest two units', async (t) => {
  t.same([-1, 999, 61_000, 3_725_000, 90_061_000].map(duration), ['-', '0s', '1m01s', '1h02m', '1d01h']);
});
