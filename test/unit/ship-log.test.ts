/**
 * What a machine ships live to its peers: each event its index applies, once, in
 * each origin's seq order, whatever order events arrive in; nothing the load had
 * already applied.
 */
import t from 'tap';
import fc from 'fast-check';
import type { ChatEvent } from '../../lib/core/event';
import { EventIndex } from '../../lib/core/event-index';
import { ShipLog } from '../../lib/replication/ship-log';
import { ev, rng, shuffled } from '../helpers/events';

/** A ship log fed as the journal feeds it: every event the index sees, after the index saw it. */
function rig(index = new EventIndex()) {
  const ship = new ShipLog((origin) => index.seqs.seqOf(origin));
  const shipped: ChatEvent[][] = [];
  const stop = ship.subscribe((events) => shipped.push(events));
  const offer = (e: ChatEvent): void => {
    index.offer(e);
    ship.offer(e);
  };
  const ids = (): string[] => shipped.flat().map((e) => `${e.origin}#${e.seq}`);
  return { index, ship, shipped, stop, offer, ids };
}

t.test('an early arrival waits until the index applies it, then ships after what it waited for', async (t) => {
  const r = rig();
  const [e1, e2, e3] = [1, 2, 3].map((seq) => ev({ origin: 'm1.aa.w0', seq }));
  r.offer(e3);
  r.offer(e2);
  t.same(r.ids(), [], 'nothing applied yet');
  r.offer(e1);
  t.same(r.shipped, [[e1, e2, e3]], 'e1 and the two it unblocked, in seq order');
  r.offer(e2);
  t.same(r.ids(), ['m1.aa.w0#1', 'm1.aa.w0#2', 'm1.aa.w0#3'], 'a duplicate ships nothing');
});

t.test('nothing the load applied before shipping began is shipped', async (t) => {
  const r = rig();
  for (let seq = 1; seq <= 3; seq++) r.index.offer(ev({ origin: 'm2.bb.w0', seq }));
  r.ship.startAt(r.index.seqs.vector());
  r.offer(ev({ origin: 'm2.bb.w0', seq: 2 }));
  r.offer(ev({ origin: 'm2.bb.w0', seq: 4 }));
  t.same(r.ids(), ['m2.bb.w0#4']);
});

t.test('a seq the index settled without its event (read by record only) is passed over', async (t) => {
  const r = rig();
  r.ship.offer(ev({ origin: 'm1.aa.w0', seq: 2 })); // arrives early, before the index applied 1
  r.index.offerUnreadPost('m1.aa.w0', 1, 'alice', 100);
  r.offer(ev({ origin: 'm1.aa.w0', seq: 2 }));
  t.same(r.ids(), ['m1.aa.w0#2'], 'seq 1 never comes; 2 ships once');
});

t.test('an unsubscribed listener hears nothing more', async (t) => {
  const r = rig();
  r.offer(ev({ origin: 'm1.aa.w0', seq: 1 }));
  r.stop();
  r.offer(ev({ origin: 'm1.aa.w0', seq: 2 }));
  t.same(r.ids(), ['m1.aa.w0#1']);
});

t.test('any arrival order, duplicates included: every event ships once, each origin in seq order', async (t) => {
  const origins = ['m1.aa.w0', 'm2.bb.w0', 'm3.cc.w1'];
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 3, maxLength: 3 }), fc.nat(), fc.nat({ max: 10 }), (counts, seed, dups) => {
      const events = origins.flatMap((origin, i) => Array.from({ length: counts[i] }, (_, k) => ev({ origin, seq: k + 1 })));
      const random = rng(seed);
      const arrivals = shuffled([...events, ...shuffled(events, random).slice(0, dups)], random);
      const r = rig();
      for (const e of arrivals) r.offer(e);
      const got = r.ids();
      t.equal(new Set(got).size, got.length, 'none twice');
      t.same([...got].sort(), events.map((e) => `${e.origin}#${e.seq}`).sort(), 'every one');
      for (const origin of origins) {
        const seqs = r.shipped.flat().filter((e) => e.origin === origin).map((e) => e.seq);
        t.same(seqs, [...seqs].sort((a, b) => a - b), `${origin} in seq order`);
      }
    }),
    { numRuns: 200, seed: 13 },
  );
});
