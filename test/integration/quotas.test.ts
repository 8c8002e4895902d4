/**
 * Quotas over real gRPC against a real `fbs start` tree of two workers: a client
 * address is counted across all its connections, whichever worker each lands on,
 * and so is a user. Over a quota a call is refused with RESOURCE_EXHAUSTED saying
 * when to retry (and `retry-after-ms` in its trailers), nothing is lost by retrying
 * then, and no one else is held back.
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { RETRY_AFTER_KEY } from '../../lib/common/proto';
import { leaseSize } from '../../lib/core/quota-leases';
import { call, ownConnection, startCluster, type TestCluster } from '../helpers/server';
import { finished, runFbc, spawnFbc } from '../helpers/fbc';
import { waitFor } from '../helpers/wait';

const NEW_USERS_PER_MINUTE = 30;
const POSTS_PER_SECOND = 5;
const REQUESTS_PER_SECOND = 100;
const STORAGE_BYTES = 8 * 1024;

let cluster: TestCluster;
let started = 0;
/** Users the other tests need, made before the first test spends the address's quota. */
const USERS = ['chatty', 'calm', 'hammer', 'typist', 'hoarder'];
t.before(async () => {
  cluster = await startCluster({
    startMachines: false,
    workers: 2,
    quotas: {
      newUsersPerAddressPerMinute: NEW_USERS_PER_MINUTE,
      postsPerUserPerSecond: POSTS_PER_SECOND,
      requestsPerAddressPerSecond: REQUESTS_PER_SECOND,
      storageBytesPerUser: STORAGE_BYTES,
    },
  });
  // A data dir as an older release left it, open to every account.
  mkdirSync(join(cluster.dir, 'data', 'm1'), { recursive: true, mode: 0o755 });
  chmodSync(join(cluster.dir, 'data'), 0o755);
  chmodSync(join(cluster.dir, 'data', 'm1'), 0o755);
  await cluster.start('m1');
  started = Date.now();
  const c = cluster.client();
  for (const user of USERS) await call(c, 'Connect', { user });
});
t.teardown(() => cluster.teardown());


interface Held {
  code: number;
  details: string;
  retryAfterMs: number;
}

/** The call's outcome: its answer, or the quota refusal with its hint (any other error fails the test). */
async function attempt(p: Promise<unknown>): Promise<{ ok: unknown } | { held: Held }> {
  try {
    return { ok: await p };
  } catch (err) {
    const e = err as grpc.ServiceError;
    if (e.code !== grpc.status.RESOURCE_EXHAUSTED) throw err;
    return { held: { code: e.code, details: e.details, retryAfterMs: Number(e.metadata.get(RETRY_AFTER_KEY)[0]) } };
  }
}

/** Calls until accepted, waiting each time as long as the refusal asked; returns the refusals. */
async function untilAccepted(fn: () => Promise<unknown>): Promise<Held[]> {
  const held: Held[] = [];
  for (;;) {
    const r = await attempt(fn());
    if ('ok' in r) return held;
    held.push(r.held);
    await sleep(r.held.retryAfterMs); // the hint under test: the call must go through after it
  }
}

/** Connections of one client address, each its own TCP connection: the machine's workers share them out. */
function connections(t: Parameters<typeof ownConnection>[0], n: number): ReturnType<typeof ownConnection>[] {
  return Array.from({ length: n }, () => ownConnection(t, cluster.address()));
}

t.test('a client address creating users faster than the quota is told when to retry, and then its user is made', async (t) => {
  const conns = connections(t, 4);
  const c = conns[0];
  let created = 0;
  let over: Awaited<ReturnType<typeof attempt>>;
  let refusalSent: number;
  for (;;) {
    refusalSent = Date.now();
    over = await attempt(call(conns[created % conns.length], 'Connect', { user: `pupil${created}` }));
    if (!('ok' in over)) break;
    created++;
  }
  // The burst, less the users made before, plus what refilled since (one every 60/N s).
  const most = NEW_USERS_PER_MINUTE - USERS.length + Math.floor(((Date.now() - started) * NEW_USERS_PER_MINUTE) / 60_000);
  t.ok(created >= NEW_USERS_PER_MINUTE - USERS.length && created <= most, `${created} users created before the refusal`);
  t.match(over.held.details, new RegExp(`too many new users from your address: at most ${NEW_USERS_PER_MINUTE} a minute; retry in \\d+ ms`));
  t.ok(over.held.retryAfterMs > 0 && over.held.retryAfterMs <= 60_000 / NEW_USERS_PER_MINUTE, `one user's worth of wait (${over.held.retryAfterMs} ms)`);
  t.equal((await call(c, 'Connect', { user: 'pupil0' })).created, false, 'existing users still connect: only creation counts');
  const other = await attempt(call(ownConnection(t, cluster.address()), 'Connect', { user: 'latecomer' }));
  // Held, unless the token the hint announced came first (a hint of a few ms on a busy host): never sooner.
  const waited = Date.now() - refusalSent;
  t.ok('held' in other || waited >= over.held.retryAfterMs, `another connection from the same address is held back too, until the hinted time (${waited} ms since the refusal)`);
  if ('held' in other) {
    await sleep(over.held.retryAfterMs);
    t.equal((await call(c, 'Connect', { user: 'latecomer' })).created, true, 'after the hinted wait the user is created');
  } else t.equal((other.ok as { created: boolean }).created, true, 'the announced token came first: the user is created');
});

t.test('a user posting faster than the quota is told to retry, and loses nothing', async (t) => {
  const c = ownConnection(t, cluster.address());
  const posts = 4 * POSTS_PER_SECOND;
  const started = Date.now();
  const refusals = (await Promise.all(Array.from({ length: posts }, (_, i) => untilAccepted(() => call(c, 'Post', { user: 'chatty', id: `fast-${i}`, text: `fast ${i}` }))))).flat();
  const took = Date.now() - started;
  t.ok(refusals.length > 0, `${refusals.length} refusals`);
  for (const r of refusals) t.match(r.details, new RegExp(`too many posts: at most ${POSTS_PER_SECOND} a second per user; retry in ${r.retryAfterMs} ms`));
  // A burst of one second's worth, then the steady rate.
  const least = ((posts - POSTS_PER_SECOND) / POSTS_PER_SECOND) * 1000;
  t.ok(took >= least - 50, `${posts} posts took ${took} ms, at least ${least} ms at ${POSTS_PER_SECOND} a second`);
  t.ok('ok' in (await attempt(call(c, 'Post', { user: 'calm', id: 'calm-1', text: 'meanwhile' }))), 'another user posts at once');
  const tl = await call(c, 'Timeline', { user: 'chatty', limit: 100 });
  const texts = tl.events.map((e: { text: string }) => e.text).sort();
  t.same(texts, Array.from({ length: posts }, (_, i) => `fast ${i}`).sort(), 'every post stored, once');
});

t.test('an address sending more requests than the quota over four connections is told to retry, counted across them all', async (t) => {
  const conns = connections(t, 4);
  const perConnection = 3 * REQUESTS_PER_SECOND; // at once: far more than the refill while they are served
  const started = Date.now();
  // 1,200 calls at once: the ones let through may queue for many seconds on a loaded host.
  const outcomes = await Promise.all(conns.flatMap((c) => Array.from({ length: perConnection }, () => attempt(call(c, 'List', { user: 'hammer' }, 120_000)))));
  const seconds = (Date.now() - started) / 1000;
  const served = outcomes.filter((o) => 'ok' in o).length;
  const refused = outcomes.flatMap((o) => ('held' in o ? [o.held] : []))[0];
  if (!refused) throw new Error(`${outcomes.length} requests at once were all served`);
  // The burst and what refilled meanwhile, for the address as a whole: counted per connection it would be four times that.
  const most = Math.ceil(REQUESTS_PER_SECOND * (1 + seconds));
  t.ok(served >= REQUESTS_PER_SECOND / 2 && served <= most, `${served} of ${outcomes.length} served in ${seconds.toFixed(1)} s (at most ${most} for the address)`);
  t.match(refused.details, new RegExp(`too many requests from your address: at most ${REQUESTS_PER_SECOND} a second; retry in \\d+ ms`));
  const lease = leaseSize({ limit: REQUESTS_PER_SECOND, perMs: 1000 });
  t.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= (lease * 1000) / REQUESTS_PER_SECOND + 1, `a lease's worth of wait (${refused.retryAfterMs} ms)`);
  t.same(await untilAccepted(() => call(conns[1], 'List', { user: 'hammer' })).then(() => 'served'), 'served', 'the address is served again after waiting');
});

t.test('fbc held back by the post quota says so in one line and posts every line', async (t) => {
  const lines = Array.from({ length: 3 * POSTS_PER_SECOND }, (_, i) => `line ${i + 1}`);
  // fbc posts a line once the one before is acknowledged: on a busy host that alone may stay
  // under the quota. So once its first line is back, the same user also posts elsewhere,
  // 3 seconds' worth at once, each retried after the wait it is told: fbc's next lines meet
  // an empty bucket (bounded: 15 posts, well within the user's bytes).
  const run = spawnFbc(t, ['-u', 'typist', '-s', cluster.address()]);
  for (const line of ['chat', ...lines, 'exit', 'quit']) run.send(line);
  run.end();
  await waitFor("fbc's first line back", () => run.out.includes('typist: line 1'));
  const elsewhere = ownConnection(t, cluster.address());
  await Promise.all(Array.from({ length: 3 * POSTS_PER_SECOND }, (_, i) => untilAccepted(() => call(elsewhere, 'Post', { user: 'typist', id: `elsewhere-${i}`, text: `e${i}` }))));
  const r = await finished(run);
  t.equal(r.code, 0, 'fbc exits normally');
  const notes = r.err.filter((l) => /too many posts/.test(l));
  t.equal(notes.length, 1, `one line about the quota: ${r.err.join(' | ')}`);
  t.match(notes[0], /^note: the server holds us back \(too many posts: at most 5 a second per user; retry in \d+ ms\); retrying by itself$/);
  t.equal(r.err.length, 1, 'and nothing else on stderr');
  for (const l of lines) t.equal(r.out.filter((o) => o === `typist: ${l}`).length, 1, `${l} shown once`);
});

t.test('a user who has stored its quota of bytes is refused every further write in one line; others go on', async (t) => {
  const c = ownConnection(t, cluster.address());
  const text = 'x'.repeat(1000);
  let stored = 0;
  let refusal: grpc.ServiceError | null = null;
  while (!refusal) {
    try {
      await call(c, 'Post', { user: 'hoarder', id: `big-${stored}`, text });
      stored++;
    } catch (err) {
      const e = err as grpc.ServiceError;
      if (e.code !== grpc.status.RESOURCE_EXHAUSTED) throw err;
      if (e.metadata.get(RETRY_AFTER_KEY).length > 0) await sleep(Number(e.metadata.get(RETRY_AFTER_KEY)[0])); // the post rate, not the storage
      else refusal = e;
    }
  }
  // Each line is the 1,000 characters and about 150 bytes of event around them.
  t.ok(stored >= Math.floor(STORAGE_BYTES / 1300) && stored <= Math.ceil(STORAGE_BYTES / 1000), `${stored} posts of 1,000 characters stored before the refusal`);
  t.match(refusal.details, /^hoarder has stored \d+ KiB, the most a user may \(8 KiB\); nothing more can be written$/, 'one line, with no retry hint');
  const join = await attempt(call(c, 'Join', { user: 'hoarder', room: 'calm' }));
  t.match('held' in join ? join.held.details : 'OK', /nothing more can be written/, 'a join is a write too');
  t.ok('ok' in (await attempt(call(c, 'Post', { user: 'calm', id: 'calm-2', text: 'still here' }))), 'another user posts');
  const r = await runFbc(t, ['-u', 'hoarder', '-s', cluster.address()], ['chat', 'one line more', 'exit', 'quit']);
  t.same(r.err.filter((l) => /nothing more can be written/.test(l)).length, 1, `fbc says so in one line: ${r.err.join(' | ')}`);
});

t.test("a machine's data is its account's alone: data dirs 0700, files 0600, an older open dir closed at start", async (t) => {
  const data = join(cluster.dir, 'data');
  const m1 = join(data, 'm1');
  const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);
  t.equal(mode(data), '700', 'data/');
  t.equal(mode(m1), '700', 'data/m1/');
  const files = ['rooms/calm.jsonl', 'incarnation', 'checkpoint', ...readdirSync(join(m1, 'wal')).map((f) => `wal/${f}`), ...readdirSync(join(m1, 'index')).map((f) => `index/${f}`)];
  for (const f of files) t.equal(mode(join(m1, f)), '600', f);
  for (const d of ['rooms', 'wal', 'index']) t.equal(mode(join(m1, d)), '700', `${d}/`);
});
