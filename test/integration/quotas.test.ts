/**
 * Quotas over real gRPC against a real `fbs start` tree (one worker, so a
 * worker's quota is the machine's): over a quota a call is refused with
 * RESOURCE_EXHAUSTED saying when to retry (and `retry-after-ms` in its
 * trailers), nothing is lost by retrying then, and no one else is held back.
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { RETRY_AFTER_KEY } from '../../lib/common/proto';
import { call, ownConnection, startCluster, type TestCluster } from '../helpers/server';
import { runFbc } from '../helpers/fbc';

const NEW_USERS_PER_MINUTE = 30;
const POSTS_PER_SECOND = 5;
const REQUESTS_PER_SECOND = 100;

let cluster: TestCluster;
let started = 0;
/** Users the other tests need, made before the first test spends the address's quota. */
const USERS = ['chatty', 'calm', 'hammer', 'typist'];
t.before(async () => {
  cluster = await startCluster({
    workers: 1,
    quotas: {
      newUsersPerAddressPerMinute: NEW_USERS_PER_MINUTE,
      postsPerUserPerSecond: POSTS_PER_SECOND,
      requestsPerConnectionPerSecond: REQUESTS_PER_SECOND,
    },
  });
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

t.test('a client address creating users faster than the quota is told when to retry, and then its user is made', async (t) => {
  const c = ownConnection(t, cluster.address());
  let created = 0;
  let over: Awaited<ReturnType<typeof attempt>>;
  while ('ok' in (over = await attempt(call(c, 'Connect', { user: `pupil${created}` })))) created++;
  // The burst, less the users made before, plus what refilled since (one every 60/N s).
  const most = NEW_USERS_PER_MINUTE - USERS.length + Math.floor(((Date.now() - started) * NEW_USERS_PER_MINUTE) / 60_000);
  t.ok(created >= NEW_USERS_PER_MINUTE - USERS.length && created <= most, `${created} users created before the refusal`);
  t.match(over.held.details, new RegExp(`too many new users from your address: at most ${NEW_USERS_PER_MINUTE} a minute; retry in \\d+ ms`));
  t.ok(over.held.retryAfterMs > 0 && over.held.retryAfterMs <= 60_000 / NEW_USERS_PER_MINUTE, `one user's worth of wait (${over.held.retryAfterMs} ms)`);
  t.equal((await call(c, 'Connect', { user: 'pupil0' })).created, false, 'existing users still connect: only creation counts');
  const other = await attempt(call(ownConnection(t, cluster.address()), 'Connect', { user: 'latecomer' }));
  t.ok('held' in other, 'another connection from the same address is held back too');
  await sleep(over.held.retryAfterMs);
  t.equal((await call(c, 'Connect', { user: 'latecomer' })).created, true, 'after the hinted wait the user is created');
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

t.test('a connection sending more requests than the quota is told to retry; other connections are not held back', async (t) => {
  const busy = ownConnection(t, cluster.address());
  const sent = 3 * REQUESTS_PER_SECOND; // at once: far more than the refill while they are served
  const outcomes = await Promise.all(Array.from({ length: sent }, () => attempt(call(busy, 'List', { user: 'hammer' }))));
  const served = outcomes.filter((o) => 'ok' in o).length;
  const refused = outcomes.flatMap((o) => ('held' in o ? [o.held] : []))[0];
  if (!refused) throw new Error(`${sent} requests at once were all served`);
  t.ok(served >= REQUESTS_PER_SECOND && served < sent, `${served} of ${sent} served: the burst, and what refilled meanwhile`);
  t.match(refused.details, new RegExp(`too many requests on this connection: at most ${REQUESTS_PER_SECOND} a second; retry in \\d+ ms`));
  t.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 1000 / REQUESTS_PER_SECOND + 1, `a request's worth of wait (${refused.retryAfterMs} ms)`);
  t.ok('ok' in (await attempt(call(ownConnection(t, cluster.address()), 'List', { user: 'hammer' }))), 'the same user on another connection is served');
  t.same(await untilAccepted(() => call(busy, 'List', { user: 'hammer' })).then(() => 'served'), 'served', 'the connection is served again after waiting');
});

t.test('fbc held back by the post quota says so in one line and posts every line', async (t) => {
  const lines = Array.from({ length: 3 * POSTS_PER_SECOND }, (_, i) => `line ${i + 1}`);
  const r = await runFbc(t, ['-u', 'typist', '-s', cluster.address()], ['chat', ...lines, 'exit', 'quit']);
  t.equal(r.code, 0, 'fbc exits normally');
  const notes = r.err.filter((l) => /too many posts/.test(l));
  t.equal(notes.length, 1, `one line about the quota: ${r.err.join(' | ')}`);
  t.match(notes[0], /^note: the server holds us back \(too many posts: at most 5 a second per user; retry in \d+ ms\); retrying by itself$/);
  t.equal(r.err.length, 1, 'and nothing else on stderr');
  for (const l of lines) t.equal(r.out.filter((o) => o === `typist: ${l}`).length, 1, `${l} shown once`);
});
