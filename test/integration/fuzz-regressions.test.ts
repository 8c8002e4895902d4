/**
 * One test per bug the cluster fuzz (test/fuzz) found, named for the behaviour,
 * each sending the request the fuzz sent, as raw bytes.
 */
import tap from 'tap';
import * as grpc from '@grpc/grpc-js';
import { startCluster } from '../helpers/server';
import { encode, rawUnary } from '../helpers/raw-grpc';
const t = tap;

t.test('fuzz regressions', async (t) => {
  const cluster = await startCluster({ machines: ['m1'], workers: 1 });
  t.teardown(() => cluster.teardown());

  // Seed 1: the refusal echoed the first 40 UTF-16 units of the name, cutting a 🌍 in
  // half; grpc-js cannot put half a surrogate pair in a status message and answered UNKNOWN.
  t.test('a refused name long in emoji gets INVALID_ARGUMENT, its echo cut between characters', async (t) => {
    const name = `\u0012${'🌍'.repeat(40)}`;
    for (const path of ['/ftchat.Chat/Connect', '/ftchat.Chat/Join']) {
      const res = await rawUnary(cluster.address(), path, encode([[1, name]]));
      t.equal(res.code, grpc.status.INVALID_ARGUMENT, `${path}: ${res.details}`);
      t.match(res.details, /^bad username '\?(🌍){39}\.\.\.': at most 32 characters$/, 'one clear line, whole characters');
    }
  });
});
