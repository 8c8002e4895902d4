/**
 * The ring election: one leader per term whatever the network does, the highest
 * live id wins when nothing goes wrong, a newer term always wins, and a leader is
 * found soon after messages stop being lost, and no one message moves the term
 * far. Deterministic: the randomized runs replay from their seed.
 */
import t from 'tap';
import {
  DEFAULT_MAX_TERM_STEP,
  RingElection,
  type ElectionAction,
  type RingMsg,
} from '../../lib/control/election';
import { nextOwnedTerm, ownerOfTerm } from '../../lib/control/ring-members';
import { rng, shuffled } from '../helpers/events';
import { SimNetwork } from '../helpers/sim-network';

const TIMEOUT_MS = 400;

interface Envelope {
  from: string;
  to: string;
  msg: RingMsg;
}

/**
 * A hand-driven ring: messages wait in `inFlight` until the test delivers them.
 * Records every leader declared and every leader learned, and flags any term
 * whose leaders disagree.
 */
class Ring {
  readonly nodes = new Map<string, RingElection>();
  readonly inFlight: Envelope[] = [];
  readonly sent: Envelope[] = [];
  /** term -> the member that declared itself leader of it */
  readonly leaders = new Map<number, string>();
  readonly learned: string[] = [];
  readonly violations: string[] = [];
  /** Processes that are gone: sends to them fail. */
  readonly down = new Set<string>();
  now = 0;

  constructor(ids: string[]) {
    for (const id of ids) this.nodes.set(id, new RingElection({ self: id, members: ids, electionTimeoutMs: TIMEOUT_MS }));
  }

  node(id: string): RingElection {
    return this.nodes.get(id)!;
  }

  apply(id: string, actions: ElectionAction[]): ElectionAction[] {
    for (const a of actions) {
      if ('send' in a) {
        const env = { from: id, to: a.send.to, msg: a.send.msg };
        this.inFlight.push(env);
        this.sent.push(env);
      } else if ('becameLeader' in a) {
        const prev = this.leaders.get(a.becameLeader);
        if (prev !== undefined && prev !== id) this.violations.push(`term ${a.becameLeader}: ${prev} and ${id} both lead`);
        this.leaders.set(a.becameLeader, id);
      } else {
        const { term, leaderId } = a.leaderKnown;
        this.learned.push(`${id}:${term}:${leaderId}`);
        if (this.leaders.get(term) !== leaderId) this.violations.push(`${id} learned ${leaderId} for term ${term}, led by ${this.leaders.get(term)}`);
      }
    }
    return actions;
  }

  start(id: string, reason = 'primary dead'): ElectionAction[] {
    return this.apply(id, this.node(id).step({ kind: 'start', reason }, this.now));
  }

  /** Deliver the oldest message in flight (a send to a down member fails back to its sender). */
  step(): void {
    const env = this.inFlight.shift()!;
    this.deliver(env);
  }

  deliver(env: Envelope): void {
    if (this.down.has(env.to)) this.apply(env.from, this.node(env.from).step({ kind: 'deliveryFailed', to: env.to, msg: env.msg }, this.now));
    else this.apply(env.to, this.node(env.to).step({ kind: 'ring', msg: env.msg }, this.now));
  }

  /** Deliver FIFO until nothing is in flight. */
  settle(limit = 10_000): void {
    for (let i = 0; this.inFlight.length > 0; i++) {
      if (i >= limit) throw new Error('the ring did not settle');
      this.step();
    }
  }

  /** Every member that is up agrees on (term, leader): that agreement, else undefined. */
  agreed(): { term: number; leaderId: string } | undefined {
    const views = [...this.nodes.values()].filter((n) => !this.down.has(n.status().self)).map((n) => n.leader());
    const first = views[0];
    if (!first || views.some((v) => v?.term !== first.term || v.leaderId !== first.leaderId)) return undefined;
    return first;
  }
}

/** What a member could gossip to its peers: its current term's leader, once known. */
function announcement(e: RingElection): RingMsg | undefined {
  const l = e.leader();
  return l && { kind: 'elected', term: l.term, leaderId: l.leaderId };
}

function sends(actions: ElectionAction[]): { to: string; msg: RingMsg }[] {
  return actions.flatMap((a) => ('send' in a ? [a.send] : []));
}

/** The candidates of the Election messages among `actions`. */
function candidates(actions: ElectionAction[]): string[] {
  return sends(actions).flatMap((s) => (s.msg.kind === 'election' ? [s.msg.candidateId] : []));
}

t.test('a single-member ring elects itself at once', async (t) => {
  const e = new RingElection({ self: 'm2.g0', members: ['m2.g0'], electionTimeoutMs: TIMEOUT_MS });
  t.same(e.step({ kind: 'start', reason: 'supervisor dead' }, 0), [{ becameLeader: 1 }], 'no message needed');
  t.same(e.leader(), { term: 1, leaderId: 'm2.g0' });
  t.equal(e.phase, 'leader');
  t.same(e.step({ kind: 'start', reason: 'supervisor dead again' }, 10), [{ becameLeader: 2 }], 'each new election is a new term');
  t.equal(e.status().reason, 'supervisor dead again');
});

t.test('a two-member ring elects the higher id, whoever starts', async (t) => {
  for (const starters of [['m1.r0'], ['m1.r1'], ['m1.r0', 'm1.r1'], ['m1.r1', 'm1.r0']]) {
    const ring = new Ring(['m1.r1', 'm1.r0']);
    for (const s of starters) ring.start(s);
    ring.settle();
    t.same(ring.violations, []);
    t.equal(ring.agreed()?.leaderId, 'm1.r1', `started by ${starters.join(' then ')}`);
    t.same(
      [...ring.leaders.values()].filter((l) => l !== 'm1.r1'),
      [],
      'no term was ever led by the lower id',
    );
  }
});

t.test('the highest id wins when every member starts at once', async (t) => {
  const ids = ['b', 'e', 'a', 'd', 'c'];
  const ring = new Ring(ids);
  for (const id of ids) ring.start(id);
  ring.settle();
  t.same(ring.violations, []);
  t.same(new Set(ring.leaders.values()), new Set(['e']), 'only e ever leads');
  const agreed = ring.agreed();
  t.equal(agreed?.leaderId, 'e');
  t.equal(agreed?.term, Math.max(...ring.leaders.keys()), 'everyone settles on the newest term');
});

t.test('a ring with a dead member still elects one leader', async (t) => {
  await t.test('known dead: the ring skips it', async (t) => {
    const ring = new Ring(['a', 'b', 'c', 'd']);
    ring.down.add('d');
    for (const id of ['a', 'b', 'c']) ring.node(id).step({ kind: 'memberAlive', member: 'd', alive: false }, ring.now);
    ring.start('a');
    ring.settle();
    t.same(ring.violations, []);
    t.same(ring.agreed(), { term: 1, leaderId: 'c' }, 'the highest live id, in the first term');
    t.notOk(ring.sent.some((e) => e.to === 'd'), 'nothing was sent to the dead member');
  });
  await t.test('not yet known dead: the failed send opens a new term that routes around it', async (t) => {
    const ring = new Ring(['a', 'b', 'c', 'd']);
    ring.down.add('d');
    ring.start('a');
    ring.settle();
    t.same(ring.violations, []);
    t.equal(ring.agreed()?.leaderId, 'c');
    t.equal(ring.leaders.size, 1, 'one leader in all');
    const term = ring.agreed()!.term;
    t.equal(ownerOfTerm(['a', 'b', 'c', 'd'], term), 'c', 'c, which saw the send to d fail, opened the winning term');
  });
  await t.test('the only survivor elects itself', async (t) => {
    const ring = new Ring(['a', 'b', 'c']);
    ring.down.add('b').add('c');
    ring.start('a');
    ring.settle();
    t.same(ring.agreed()?.leaderId, 'a');
  });
});

t.test('a member dying mid-election is routed around', async (t) => {
  const ring = new Ring(['a', 'b', 'c', 'd', 'e']);
  for (const id of ['a', 'b', 'c']) ring.start(id);
  ring.step();
  ring.step();
  ring.down.add('e'); // the would-be winner dies while the election runs
  ring.settle();
  t.same(ring.violations, []);
  t.equal(ring.agreed()?.leaderId, 'd', 'the highest survivor leads');
  t.notOk([...ring.leaders.values()].includes('e'), 'the dead member never led');
});

t.test('an older term never overrides a newer leader', async (t) => {
  const ids = ['a', 'b', 'c'];
  const ring = new Ring(ids);
  ring.start('c');
  ring.settle();
  ring.start('a'); // a newer election: a owns term 4
  ring.settle();
  const newest = ring.agreed()!;
  t.same(newest, { term: 4, leaderId: 'c' });
  const b = ring.node('b');
  t.same(b.step({ kind: 'ring', msg: { kind: 'elected', term: 3, leaderId: 'a' } }, 0), [], 'an older Elected is ignored');
  t.same(b.step({ kind: 'ring', msg: { kind: 'election', term: 2, candidateId: 'b', origin: 'b' } }, 0), [], 'an older Election is ignored');
  t.same(ring.node('c').step({ kind: 'ring', msg: { kind: 'election', term: 3, candidateId: 'c', origin: 'c' } }, 0), [], 'even one naming the leader');
  t.same(b.leader(), newest, 'b still follows the newest leader');
  t.same(b.step({ kind: 'ring', msg: { kind: 'elected', term: 4, leaderId: 'b' } }, 0), [], 'a different leader for a decided term is ignored');
  t.same(b.leader(), newest);
});

t.test('a newer term always wins: a leader hands over when it sees one', async (t) => {
  const ring = new Ring(['a', 'b']);
  ring.start('b');
  ring.settle();
  t.same(ring.node('b').leader(), { term: 2, leaderId: 'b' });
  // b was paused; meanwhile a, alone, won term 3.
  const actions = ring.node('b').step({ kind: 'ring', msg: { kind: 'elected', term: 3, leaderId: 'a' } }, 0);
  t.same(actions, [{ leaderKnown: { term: 3, leaderId: 'a' } }, { send: { to: 'a', msg: { kind: 'elected', term: 3, leaderId: 'a' } } }]);
  t.equal(ring.node('b').phase, 'follower', 'b no longer leads');
  const join = ring.node('b').step({ kind: 'ring', msg: { kind: 'election', term: 5, candidateId: 'a', origin: 'a' } }, 0);
  t.same(sends(join).map((s) => s.msg), [{ kind: 'election', term: 5, candidateId: 'b', origin: 'a' }], 'b takes part in the newer election');
  t.equal(ring.node('b').term, 5);
});

t.test('an election that does not finish in time reopens in a higher term', async (t) => {
  const e = new RingElection({ self: 'b', members: ['a', 'b', 'c'], electionTimeoutMs: TIMEOUT_MS });
  const first = sends(e.step({ kind: 'start', reason: 'primary dead' }, 1000));
  t.same(first.map((s) => [s.to, s.msg]), [['c', { kind: 'election', term: 2, candidateId: 'b', origin: 'b' }]]);
  // the message is lost
  t.same(e.step({ kind: 'tick' }, 1000 + TIMEOUT_MS - 1), [], 'not before the timeout');
  t.same(e.step({ kind: 'start', reason: 'primary dead' }, 1100), [], 'starting again while it runs changes nothing');
  const retry = sends(e.step({ kind: 'tick' }, 1000 + TIMEOUT_MS));
  t.same(retry.map((s) => [s.to, s.msg]), [['c', { kind: 'election', term: 5, candidateId: 'b', origin: 'b' }]], 'the next term b owns');
  t.match(e.status().reason, /term 2 timed out/);
  e.step({ kind: 'ring', msg: { kind: 'elected', term: 5, leaderId: 'c' } }, 1500);
  t.same(e.step({ kind: 'tick' }, 1_000_000), [], 'a decided election never times out');
});

t.test('a duplicated election message is passed on once, and a straggler naming a member that passed on someone larger does not make it leader', async (t) => {
  const b = new RingElection({ self: 'b', members: ['a', 'b', 'c'], electionTimeoutMs: TIMEOUT_MS });
  const fromA = { kind: 'election', term: 1, candidateId: 'a', origin: 'a' } as const;
  t.same(candidates(b.step({ kind: 'ring', msg: fromA }, 0)), ['b'], 'b puts itself forward');
  t.same(b.step({ kind: 'ring', msg: fromA }, 1), [], 'the duplicate dies');
  t.same(candidates(b.step({ kind: 'ring', msg: { ...fromA, candidateId: 'c' } }, 2)), ['c'], 'a larger candidate is passed on');
  t.same(b.step({ kind: 'ring', msg: { ...fromA, candidateId: 'b' } }, 3), [], 'its own id coming back late does not make b leader');
  t.equal(b.phase, 'electing');
});

t.test('duplicated and straggling messages never make a second leader', async (t) => {
  const ids = ['a', 'b', 'c', 'd'];
  const ring = new Ring(ids);
  for (const id of ids) ring.start(id);
  ring.settle();
  ring.down.add('b');
  ring.now = 5000;
  ring.start('a'); // a newer term that routes around b
  ring.settle();
  const leadersBefore = new Map(ring.leaders);
  const agreedBefore = ring.agreed();
  ring.down.clear(); // b is back (it was paused) and gets the stragglers too
  // Replay every message ever sent, several times, in shuffled orders.
  const random = rng(3);
  for (let round = 0; round < 5; round++) {
    for (const env of shuffled(ring.sent, random)) ring.deliver(env);
    ring.settle();
  }
  t.same(ring.violations, []);
  t.same(ring.leaders, leadersBefore, 'no new leader in any term');
  for (const id of ['a', 'c', 'd']) t.same(ring.node(id).leader(), agreedBefore, `${id} did not change its mind`);
});

t.test('a member that was cut off learns the newest leader from any Elected message of its term', async (t) => {
  const ring = new Ring(['a', 'b', 'c']);
  ring.start('a');
  ring.settle();
  // c is paused past the timeout: the others elect without it.
  ring.down.add('c');
  for (const id of ['a', 'b']) ring.node(id).step({ kind: 'memberAlive', member: 'c', alive: false }, ring.now);
  ring.start('a');
  ring.settle();
  t.same(ring.node('b').leader(), { term: 4, leaderId: 'b' }, 'b leads the newer term');
  t.same(ring.node('c').leader(), { term: 1, leaderId: 'c' }, 'the paused c still believes it leads');
  ring.down.delete('c');
  ring.apply('c', ring.node('c').step({ kind: 'ring', msg: announcement(ring.node('b'))! }, 9000));
  ring.settle();
  t.same(ring.violations, []);
  t.same(ring.agreed(), { term: 4, leaderId: 'b' }, 'c follows the newer leader');
  t.equal(ring.node('c').phase, 'follower');
});

t.test('only one member may open any given term', async (t) => {
  let bad = 0;
  for (let n = 1; n <= 6; n++) {
    const members = Array.from({ length: n }, (_, i) => `m${i}`);
    for (let current = 0; current <= 40; current++) {
      for (let i = 0; i < n; i++) {
        const next = nextOwnedTerm(current, i, n);
        if (next <= current || next > current + n || ownerOfTerm(members, next) !== members[i]) bad++;
      }
    }
  }
  t.equal(bad, 0, 'each member opens a term above the current one, owned by it alone, within n');
  t.equal(ownerOfTerm(['a', 'b'], 0), undefined, 'term 0 is no one\'s: it means "no election yet"');
});

t.test('messages naming strangers or a term\'s wrong opener are ignored', async (t) => {
  const e = new RingElection({ self: 'b', members: ['a', 'b', 'c'], electionTimeoutMs: TIMEOUT_MS });
  t.same(e.step({ kind: 'ring', msg: { kind: 'election', term: 1, candidateId: 'zz', origin: 'a' } }, 0), [], 'unknown candidate');
  t.same(e.step({ kind: 'ring', msg: { kind: 'election', term: 1, candidateId: 'a', origin: 'c' } }, 0), [], 'term 1 belongs to a, not c');
  t.same(e.step({ kind: 'ring', msg: { kind: 'elected', term: 1, leaderId: 'zz' } }, 0), [], 'unknown leader');
  t.same(e.step({ kind: 'ring', msg: { kind: 'election', term: 1.5, candidateId: 'a', origin: 'a' } }, 0), [], 'not a whole term');
  t.equal(e.term, 0, 'none of them moved the term');
});

t.test('a restarted member seeded with the fenced term opens only newer terms', async (t) => {
  const e = new RingElection({ self: 'a', members: ['a', 'b'], initialTerm: 7, electionTimeoutMs: TIMEOUT_MS });
  t.same(e.step({ kind: 'ring', msg: { kind: 'election', term: 7, candidateId: 'b', origin: 'a' } }, 0), [], 'a message of its old term is from a previous life');
  const open = sends(e.step({ kind: 'start', reason: 'primary dead' }, 0));
  t.same(open.map((s) => s.msg.term), [9], 'the first term a owns above 7');
});

t.test('one message moves the term by at most maxTermStep, however large a term it names', async (t) => {
  const e = new RingElection({ self: 'b', members: ['a', 'b', 'c'], electionTimeoutMs: TIMEOUT_MS, maxTermStep: 10 });
  t.same(e.step({ kind: 'ring', msg: { kind: 'elected', term: Number.MAX_SAFE_INTEGER, leaderId: 'c' } }, 0), [], 'a term far ahead is ignored');
  t.same(e.step({ kind: 'ring', msg: { kind: 'election', term: 11, candidateId: 'b', origin: 'b' } }, 0), [], 'one step past the bound too');
  t.equal(e.term, 0);
  t.same(e.step({ kind: 'ring', msg: { kind: 'elected', term: 10, leaderId: 'c' } }, 0), [{ leaderKnown: { term: 10, leaderId: 'c' } }, { send: { to: 'c', msg: { kind: 'elected', term: 10, leaderId: 'c' } } }], 'within the bound it is taken');
  for (let i = 0; i < 100; i++) e.step({ kind: 'ring', msg: { kind: 'elected', term: e.term + 10, leaderId: 'a' } }, i);
  t.equal(e.term, 1010, 'a hundred messages: a thousand terms, never more');
});

t.test('a term observed from a trusted local source raises the floor, but never cuts an election short', async (t) => {
  const e = new RingElection({ self: 'a', members: ['a', 'b'], electionTimeoutMs: TIMEOUT_MS, maxTermStep: 4 });
  e.step({ kind: 'termObserved', term: 40 }, 0);
  t.equal(e.term, 40, 'a member that lagged catches up from the record');
  t.same(e.step({ kind: 'ring', msg: { kind: 'elected', term: 42, leaderId: 'b' } }, 0).length, 2, 'and takes messages near the new term');
  e.step({ kind: 'termObserved', term: 30 }, 0);
  t.equal(e.term, 42, 'an older term changes nothing');
  const open = sends(e.step({ kind: 'start', reason: 'primary dead' }, 0));
  t.same(open.map((s) => s.msg.term), [43]);
  e.step({ kind: 'termObserved', term: 100 }, 0);
  t.equal(e.term, 43, 'the election under way keeps its term');
  t.equal(e.phase, 'electing');
});

t.test('bad ring configuration is refused with a clear one-line message', async (t) => {
  t.throws(() => new RingElection({ self: 'a', members: [], electionTimeoutMs: TIMEOUT_MS }), /ring election: the ring needs at least one member/);
  t.throws(() => new RingElection({ self: 'x', members: ['a', 'b'], electionTimeoutMs: TIMEOUT_MS }), /self "x" is not a member \(a, b\)/);
  t.throws(() => new RingElection({ self: 'a', members: ['a', 'a'], electionTimeoutMs: TIMEOUT_MS }), /member ids must be distinct/);
  t.throws(() => new RingElection({ self: 'a', members: ['a'], electionTimeoutMs: 0 }), /electionTimeoutMs must be a positive/);
  t.throws(() => new RingElection({ self: 'a', members: ['a'], initialTerm: -1, electionTimeoutMs: TIMEOUT_MS }), /initialTerm must be an integer >= 0/);
  t.throws(() => new RingElection({ self: 'a', members: ['a', 'b', 'c'], electionTimeoutMs: TIMEOUT_MS, maxTermStep: 2 }), /maxTermStep must be an integer >= the ring's size/);
  t.throws(() => new RingElection({ self: 'a', members: ['a', 'b'], electionTimeoutMs: TIMEOUT_MS }).step({ kind: 'memberAlive', member: 'q', alive: false }, 0), /"q" is not a member/);
});

// ---------------------------------------------------------------------------
// Randomized runs on a simulated network.

const SEEDS = 500;
const TICK_MS = 10;
const SYNC_MS = 50; // failure-detector refresh and heartbeat announcements
// A leader everyone agrees on within this many ticks of the faults stopping:
// an unfinished election's timeout plus a couple of clean rounds.
const LIVENESS_TICKS = (2.5 * TIMEOUT_MS) / TICK_MS;

interface RunReport {
  seed: number;
  members: number;
  killed: number;
  twoLeaders: string[];
  wrongLearned: string[];
  /** Ticks after calm until every live member agreed on one live leader (undefined: never). */
  agreedAfterTicks: number | undefined;
  stillAgreedAtEnd: boolean;
  winner: string | undefined;
  maxLive: string;
  terms: number;
  faulty: boolean;
  /** The furthest any delivered message's term lay above its receiver's. */
  maxTermGap: number;
}

function simulate(seed: number, faulty: boolean): RunReport {
  const nodes = new Map<string, RingElection>();
  const leaders = new Map<number, string>();
  const report: RunReport = {
    seed,
    members: 0,
    killed: 0,
    twoLeaders: [],
    wrongLearned: [],
    agreedAfterTicks: undefined,
    stillAgreedAtEnd: false,
    winner: undefined,
    maxLive: '',
    terms: 0,
    faulty,
    maxTermGap: 0,
  };
  const net: SimNetwork<RingMsg> = new SimNetwork<RingMsg>(
    { seed, minDelayMs: 1, maxDelayMs: 20, failAfterMs: 40 },
    {
      deliver: (to, msg) => {
        report.maxTermGap = Math.max(report.maxTermGap, msg.term - nodes.get(to)!.term);
        apply(to, nodes.get(to)!.step({ kind: 'ring', msg }, net.now));
      },
      failed: (from, to, msg) => apply(from, nodes.get(from)!.step({ kind: 'deliveryFailed', to, msg }, net.now)),
    },
  );
  const random = net.random;
  // Faults stop at a random moment, often mid-election; no kill or cut after it.
  const calmAt = faulty ? 100 + Math.floor(random() * 1400) : 0;
  const end = calmAt + LIVENESS_TICKS * TICK_MS;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  if (faulty) net.faults = { lossRate: random() * 0.3, duplicateRate: random() * 0.3, falseFailureRate: random() * 0.6 };
  const suspicionRate = faulty ? random() * 0.4 : 0; // false suspicions per member per refresh

  const n = 1 + Math.floor(random() * 5);
  const ids = shuffled(Array.from({ length: 10 }, (_, k) => `m1.r${k}`), random).slice(0, n);
  for (const id of ids) nodes.set(id, new RingElection({ self: id, members: ids, electionTimeoutMs: TIMEOUT_MS }));
  report.members = n;
  if (!faulty && n >= 2 && random() < 0.5) {
    net.kill(pick(ids)); // gone before the election; the others find out by trying
    report.killed = 1;
  }

  function apply(id: string, actions: ElectionAction[]): void {
    if (!net.isAlive(id)) return;
    for (const a of actions) {
      if ('send' in a) net.send(id, a.send.to, a.send.msg);
      else if ('becameLeader' in a) {
        const prev = leaders.get(a.becameLeader);
        if (prev !== undefined && prev !== id) report.twoLeaders.push(`seed ${seed}: term ${a.becameLeader} led by ${prev} and ${id}`);
        leaders.set(a.becameLeader, id);
      } else {
        const { term, leaderId } = a.leaderKnown;
        if (leaders.get(term) !== leaderId) report.wrongLearned.push(`seed ${seed}: ${id} learned ${leaderId} for term ${term}, led by ${leaders.get(term)}`);
      }
    }
  }
  const live = (): string[] => ids.filter((id) => net.isAlive(id));

  // Every member notices the watched process die, at slightly different times.
  for (const id of ids) net.at(Math.floor(random() * 200), () => apply(id, nodes.get(id)!.step({ kind: 'start', reason: 'primary dead' }, net.now)));
  if (faulty) {
    // Kill up to n-1 members while the election runs; cut one link until calm.
    const victims = shuffled(ids, random).slice(0, Math.floor(random() * n));
    for (const v of victims) net.at(Math.floor(random() * calmAt), () => net.kill(v));
    report.killed = victims.length;
    if (n >= 2 && random() < 0.3) {
      const [a, b] = shuffled(ids, random);
      net.at(Math.floor(random() * calmAt), () => net.partition(a, b));
    }
    net.at(calmAt, () => {
      net.calm();
      net.heal();
    });
  }

  net.every(TICK_MS, 0, end, () => {
    for (const id of live()) apply(id, nodes.get(id)!.step({ kind: 'tick' }, net.now));
  });
  // The failure detector's view, the leader announcements carried on heartbeats,
  // and the caller's rule: a member whose leader is gone opens a new election.
  net.every(SYNC_MS, 0, end, () => {
    for (const id of live()) {
      const node = nodes.get(id)!;
      for (const other of ids) {
        if (other === id) continue;
        const up = net.reachable(id, other);
        node.step({ kind: 'memberAlive', member: other, alive: up }, net.now);
        const heard = announcement(nodes.get(other)!);
        if (up && heard && random() >= net.faults.lossRate) apply(id, node.step({ kind: 'ring', msg: heard }, net.now));
      }
      if (net.now < calmAt && random() < suspicionRate) node.step({ kind: 'memberAlive', member: pick(ids), alive: false }, net.now); // a false suspicion
      const leader = node.leader();
      if (leader && !net.isAlive(leader.leaderId) && node.phase !== 'electing') apply(id, node.step({ kind: 'start', reason: 'leader lost' }, net.now));
    }
  });
  const agreement = (): string | undefined => {
    const views = live().map((id) => nodes.get(id)!.leader());
    const first = views[0];
    if (!first || !net.isAlive(first.leaderId)) return undefined;
    return views.every((v) => v?.term === first.term && v.leaderId === first.leaderId) ? first.leaderId : undefined;
  };
  net.every(TICK_MS, calmAt, end, () => {
    if (report.agreedAfterTicks === undefined && agreement()) report.agreedAfterTicks = (net.now - calmAt) / TICK_MS;
  });

  net.runUntil(end);
  report.winner = agreement();
  report.stillAgreedAtEnd = report.winner !== undefined;
  report.maxLive = [...live()].sort().at(-1)!;
  report.terms = leaders.size;
  return report;
}

let cached: RunReport[] | undefined;
function faultyRuns(): RunReport[] {
  cached ??= Array.from({ length: SEEDS }, (_, seed) => simulate(seed + 1, true));
  return cached;
}

t.test(`under loss, duplication, reordering, partitions and members killed mid-election, no term ever has two leaders (${SEEDS} seeds)`, async (t) => {
  const runs = faultyRuns();
  t.same(runs.flatMap((r) => r.twoLeaders).slice(0, 5), []);
  // The runs really exercised what they claim.
  t.ok(runs.filter((r) => r.killed > 0).length > SEEDS / 3, 'many runs killed members mid-election');
  t.ok(runs.filter((r) => r.terms > 1).length > SEEDS / 3, 'many runs went through several led terms');
  t.ok(runs.filter((r) => r.members === 1).length > 0 && runs.filter((r) => r.members === 2).length > 0, 'one- and two-member rings included');
});

t.test(`honest members' terms stay far inside the bound one message may move them (${SEEDS} seeds)`, async (t) => {
  const gap = Math.max(...faultyRuns().map((r) => r.maxTermGap));
  t.ok(gap * 10 < DEFAULT_MAX_TERM_STEP, `the largest gap a delivered message crossed: ${gap} terms`);
});

t.test(`every live member that learns a leader learns the one that leads that term (${SEEDS} seeds)`, async (t) => {
  t.same(faultyRuns().flatMap((r) => r.wrongLearned).slice(0, 5), []);
});

t.test(`once messages stop being lost, every live member agrees on one live leader within ${LIVENESS_TICKS} ticks (${SEEDS} seeds)`, async (t) => {
  const runs = faultyRuns();
  const late = runs.filter((r) => r.agreedAfterTicks === undefined || !r.stillAgreedAtEnd);
  t.same(late.map((r) => `seed ${r.seed}`).slice(0, 5), [], 'every run reached lasting agreement');
  const unsettled = runs.filter((r) => (r.agreedAfterTicks ?? Infinity) > 0);
  t.ok(unsettled.length > SEEDS / 10, `many runs (${unsettled.length}) had no agreed leader when the faults stopped`);
  const ticks = unsettled.map((r) => r.agreedAfterTicks ?? Infinity).sort((a, b) => a - b);
  t.comment(`ticks to agreement after calm in those: median ${ticks[ticks.length >> 1]}, max ${ticks.at(-1)}`);
});

t.test(`without message faults the highest live id always wins, even with a member already dead (${SEEDS} seeds)`, async (t) => {
  const runs = Array.from({ length: SEEDS }, (_, seed) => simulate(seed + 1, false));
  const wrong = runs.filter((r) => r.winner !== r.maxLive || r.twoLeaders.length > 0);
  t.same(wrong.map((r) => `seed ${r.seed}: ${r.winner} won, ${r.maxLive} is the highest`).slice(0, 5), []);
});
