/**
 * Quotas per machine, across its workers (issue 18.7): the primary's ledger holds
 * the buckets and workers take leases of them, so one address spread over many
 * connections and workers gets the figure for the machine, not per connection or
 * per worker; a refusal costs no further round trip until its retry time. Time is fed in.
 */
import t from 'tap';
import { LEASE_MS, leaseSize, QuotaLeases, QuotaLedger, type QuotaKind } from '../../lib/core/quota-leases';

const rates = { newUser: { limit: 100, perMs: 60_000 }, post: { limit: 20, perMs: 1000 }, request: { limit: 500, perMs: 1000 } };

/** A machine of `workers` workers; `call(worker, now)` is one request from the address, as a worker's Quotas takes it. */
function machine(workers: number, kind: QuotaKind = 'request') {
  const ledger = new QuotaLedger(rates);
  const leases = Array.from({ length: workers }, () => new QuotaLeases());
  let asks = 0;
  return {
    get asks() {
      return asks;
    },
    call(worker: number, now: number): boolean {
      const l = leases[worker];
      let r = l.take('10.0.0.1', now);
      if (r === 'ask') {
        asks++;
        l.granted('10.0.0.1', ledger.grant(kind, '10.0.0.1', leaseSize(rates[kind]), now, l.unspent('10.0.0.1', now)), now);
        r = l.take('10.0.0.1', now);
      }
      return r === 0;
    },
  };
}

t.test('an address with many connections over many workers gets the figure per machine', async (t) => {
  const m = machine(4);
  let served = 0;
  // 6,000 calls in one second from 4 connections landing on 4 workers (the measured abuse).
  for (let i = 0; i < 6000; i++) if (m.call(i % 4, Math.floor(i / 6))) served++;
  t.ok(served <= 500 + 500, `${served} served: at most the burst and a second's refill`);
  t.ok(served >= 500, 'and not less than the burst');
  t.ok(m.asks < 6000 / 10, `${m.asks} round trips to the ledger for 6,000 calls`);
});

t.test('a refused address costs no round trip until its retry time', async (t) => {
  const m = machine(1, 'newUser');
  for (let i = 0; i < 100; i++) t.equal(m.call(0, 0), true, `new user ${i + 1} of the burst`);
  const before = m.asks;
  for (let i = 0; i < 50; i++) t.equal(m.call(0, 10), false, 'over the quota');
  t.equal(m.asks, before + 1, 'one ask said no; the other 49 were refused from the lease');
  const lease = leaseSize(rates.newUser);
  t.equal(m.call(0, 600), false, 'one token refilled (60 s / 100) is not yet a lease: still refused, without asking');
  t.equal(m.asks, before + 1);
  t.equal(m.call(0, 10 + lease * 600), true, `once a lease of ${lease} has refilled, the next is let through`);
});

t.test("a lease's unspent tokens lapse, so a quiet worker holds no tokens from a busy one for long", async (t) => {
  const ledger = new QuotaLedger(rates);
  const quiet = new QuotaLeases();
  quiet.granted('u', ledger.grant('post', 'u', 20, 0), 0);
  t.equal(quiet.take('u', 0), 0, 'a token of the lease');
  t.equal(quiet.take('u', LEASE_MS), 'ask', 'the rest lapsed: ask the ledger again');
});

t.test('leases that lapse unspent do not use up the quota: after a user every 2 s for a minute, an address may still burst to its figure', async (t) => {
  // 100 new users a minute. 30 spread over a minute on two workers leave the bucket
  // full again, so a burst of 60 more must pass (each of the 30 lapsed leases of 6
  // tokens kept its 5 unspent ones: without giving them back, only about 20 would).
  const m = machine(2, 'newUser');
  let now = 0;
  for (let i = 0; i < 30; i++, now += 2000) t.equal(m.call(i % 2, now), true, `spread user ${i + 1}`);
  let burst = 0;
  for (let i = 0; i < 60; i++) if (m.call(i % 2, now)) burst++;
  t.equal(burst, 60, 'the whole burst of 60 passed');
});

t.test('a lapsed lease gives back what it did not spend, and only once', async (t) => {
  const ledger = new QuotaLedger(rates);
  const w = new QuotaLeases();
  w.granted('u', ledger.grant('newUser', 'u', 100, 0), 0);
  t.equal(w.take('u', 0), 0, 'one of the 100 spent');
  t.equal(w.unspent('u', LEASE_MS - 1), 0, 'nothing to give back while the lease runs');
  t.equal(w.unspent('u', LEASE_MS), 99, 'the 99 unspent once it lapsed');
  t.equal(w.unspent('u', LEASE_MS), 0, 'and not twice');
  t.equal(ledger.grant('newUser', 'u', 100, LEASE_MS, 99).tokens, 100, 'given back, the bucket has its 100 again (1 spent, about 1.7 refilled, capped at the limit)');
  t.equal(ledger.grant('newUser', 'u', 10, LEASE_MS, 1000).tokens, 10, 'a give-back counts at most one lease (here 10) ...');
  t.equal(ledger.grant('newUser', 'u', 100, LEASE_MS).tokens, 0, '... so nothing is left after it');
});
