/**
 * A name is settled for one key, whatever the network and the machines do: at most
 * one value is ever chosen per name (a majority of accepts of one ballot), by racing
 * proposers, over lost, duplicated and reordered messages, crashed and restarted
 * acceptors, partitions, and an acceptor whose records are lost (a new data dir)
 * that votes again only after learning every peer's records; a name held by a room
 * from before this release is never chosen for another key; and every proposer ends
 * once a majority is reachable. Seeded: a failing seed replays exactly.
 */
import t from 'tap';
import { acceptorStep, EMPTY_RECORD, mayVoteAgain, mergeRecords, type AcceptorRecord, type KnownName } from '../../lib/core/name-acceptor';
import { compareBallots, fitsKnown, foldName, majority, type AcceptorReply, type AcceptorRequest, type NameValue } from '../../lib/core/name-ballot';
import { NameProposer, type ProposerOutcome } from '../../lib/core/name-proposer';
import { rng } from '../helpers/events';
import { SimNetwork } from '../helpers/sim-network';

t.test('a lone proposer settles its own value in two round trips', async (t) => {
  const acceptors = ['m1', 'm2', 'm3'];
  const records = new Map(acceptors.map((a) => [a, EMPTY_RECORD]));
  const p = new NameProposer({ name: 'alice', value: { name: 'alice', key: 'K1' }, acceptors, id: 'm1.aa', round: 5 });
  let sends = p.start();
  for (let trip = 0; trip < 2; trip++) {
    const next = [];
    for (const s of sends) {
      const step = acceptorStep(records.get(s.to)!, null, s.req);
      if (step.store) records.set(s.to, step.store);
      const reply = step.reply.type === 'accepted' ? { ...step.reply, vote: `sig-${s.to}` } : step.reply;
      next.push(...p.receive(s.to, reply));
    }
    sends = next;
  }
  t.equal(p.outcome?.type, 'chosen');
  t.same(p.outcome?.type === 'chosen' && p.outcome.value, { name: 'alice', key: 'K1' });
  t.equal(p.outcome?.type === 'chosen' && p.outcome.votes.length, 2, 'the proof is a majority of votes');
});

t.test('an acceptor that holds the name answers with its owner, and never accepts another key or spelling', async (t) => {
  const ballot = { round: 1, by: 'm2.bb' };
  const legacy: KnownName = { value: { name: 'Bob', key: 'KB' }, proof: null };
  const settled: KnownName = { value: { name: 'carol', key: 'KC' }, proof: 'PROOF' };
  t.same(acceptorStep(EMPTY_RECORD, settled, { type: 'prepare', name: 'carol', ballot }).reply, { type: 'decided', value: settled.value, proof: 'PROOF' });
  t.same(acceptorStep(EMPTY_RECORD, legacy, { type: 'accept', name: 'bob', ballot, value: { name: 'Bob', key: 'KX' } }).reply, { type: 'taken', value: legacy.value });
  t.same(acceptorStep(EMPTY_RECORD, legacy, { type: 'accept', name: 'bob', ballot, value: { name: 'bob', key: 'KB' } }).reply.type, 'taken', 'another spelling');
  t.equal(acceptorStep(EMPTY_RECORD, legacy, { type: 'accept', name: 'bob', ballot, value: { name: 'Bob', key: 'KB' } }).reply.type, 'accepted', "its own key: certified");
  const keyless: KnownName = { value: { name: 'dave', key: '' }, proof: null };
  t.equal(acceptorStep(EMPTY_RECORD, keyless, { type: 'accept', name: 'dave', ballot, value: { name: 'dave', key: 'KD' } }).reply.type, 'accepted', 'a room without a key is claimed by any key');
  t.ok(fitsKnown(keyless.value, { name: 'dave', key: 'KZ' }));
  t.equal(foldName('AlIce'), 'alice');
});

t.test('an acceptor never goes back on a promise', async (t) => {
  const high = { round: 9, by: 'm1.aa' };
  const low = { round: 3, by: 'm3.cc' };
  const promised = acceptorStep(EMPTY_RECORD, null, { type: 'prepare', name: 'x', ballot: high }).store!;
  t.same(acceptorStep(promised, null, { type: 'accept', name: 'x', ballot: low, value: { name: 'x', key: 'K' } }).reply, { type: 'nack', ballot: low, promised: high });
  t.same(acceptorStep(promised, null, { type: 'prepare', name: 'x', ballot: high }).store, null, 'a duplicate prepare stores nothing');
  const merged = mergeRecords(promised, { promised: low, accepted: { ballot: low, value: { name: 'x', key: 'K' } } });
  t.same(merged, { promised: high, accepted: { ballot: low, value: { name: 'x', key: 'K' } } });
});

// ---- The seeded simulation ----

type Msg =
  | { kind: 'req'; req: AcceptorRequest; attempt: number }
  | { kind: 'reply'; reply: AcceptorReply; name: string; attempt: number }
  | { kind: 'sync' }
  | { kind: 'records'; records: [string, AcceptorRecord][] };

interface SimAcceptor {
  records: Map<string, AcceptorRecord>;
  /** What its data holds now. */
  known: Map<string, KnownName>;
  /** What its data holds once caught up from its peers. */
  replicated: Map<string, KnownName>;
  /** A new data dir whose data has not caught up yet. */
  catchingUp: boolean;
  down: boolean;
  /** Records lost (a new data dir): it votes only after every peer sent its records. */
  learning: Set<string> | null;
}

interface SimProposer {
  id: string;
  node: string;
  p: NameProposer;
  name: string;
  attempt: number;
  answered: Set<string>;
}

interface RunOptions {
  seed: number;
  /** Acceptors whose records may be lost may vote at once (the rule taken out: the check must then fail). */
  unsafeAmnesia?: boolean;
}

interface RunResult {
  violations: string[];
  unfinished: string[];
  outcomes: ProposerOutcome[];
}

function simulate({ seed, unsafeAmnesia = false }: RunOptions): RunResult {
  const random = rng(seed);
  const n = random() < 0.7 ? 3 : 5;
  const acceptorIds = Array.from({ length: n }, (_, i) => `m${i + 1}`);
  const acceptors = new Map<string, SimAcceptor>(acceptorIds.map((id) => [id, { records: new Map(), known: new Map(), replicated: new Map(), catchingUp: false, down: false, learning: null }]));
  const proposers = new Map<string, SimProposer>();
  const names = ['alice', 'bob', 'carol'];
  // bob is held by a room from before this release on every machine (a new data dir lacks it until it catches up).
  const legacy: NameValue = { name: 'bob', key: 'K-legacy' };
  for (const a of acceptors.values()) for (const m of ['known', 'replicated'] as const) a[m].set('bob', { value: legacy, proof: null });
  /** Every accept ever given, by name and ballot: the observer's view of what was chosen. */
  const acceptedBy = new Map<string, Map<string, { value: NameValue; voters: Set<string> }>>();
  const chosen = new Map<string, NameValue>();
  const violations: string[] = [];
  const outcomes: ProposerOutcome[] = [];
  const CALL_TIMEOUT = 40;

  const net: SimNetwork<Msg> = new SimNetwork<Msg>(
    { seed: seed + 1, faults: { lossRate: 0.1, duplicateRate: 0.1 }, minDelayMs: 1, maxDelayMs: 15 },
    { deliver: (to, msg, from) => deliver(to, msg, from), failed: () => undefined },
  );

  function observeAccept(name: string, ballotKey: string, value: NameValue, voter: string): void {
    let byBallot = acceptedBy.get(name);
    if (!byBallot) acceptedBy.set(name, (byBallot = new Map()));
    let entry = byBallot.get(ballotKey);
    if (!entry) byBallot.set(ballotKey, (entry = { value, voters: new Set() }));
    entry.voters.add(voter);
    if (entry.voters.size < majority(n)) return;
    const before = chosen.get(name);
    if (before && (before.name !== value.name || before.key !== value.key)) violations.push(`seed ${seed}: ${name} chosen as ${before.key} and ${value.key}`);
    chosen.set(name, value);
    if (name === 'bob' && !fitsKnown(legacy, value)) violations.push(`seed ${seed}: bob, held by a room before this release, chosen for ${value.key}`);
  }

  function deliver(to: string, msg: Msg, from: string): void {
    const a = acceptors.get(to);
    if (a?.down) return; // a crashed machine answers nothing; the caller times out
    if (msg.kind === 'req' && a) return answer(a, to, from, msg);
    if (msg.kind === 'sync' && a && !a.learning) return net.send(to, from, { kind: 'records', records: [...a.records] });
    if (msg.kind === 'records' && a?.learning) {
      for (const [name, r] of msg.records) a.records.set(name, mergeRecords(a.records.get(name) ?? EMPTY_RECORD, r));
      a.learning.delete(from);
      if (a.learning.size === 0) a.learning = null; // it votes again, whether or not its data has caught up
      return;
    }
    if (msg.kind === 'reply') {
      const sp = proposers.get(to);
      if (!sp || sp.attempt !== msg.attempt) {
        // A reply to an earlier attempt still teaches what it says; the proposer checks ballots itself.
        if (sp) drive(sp, sp.p.receive(from, msg.reply));
        return;
      }
      sp.answered.add(from);
      drive(sp, sp.p.receive(from, msg.reply));
    }
  }

  function answer(a: SimAcceptor, self: string, from: string, msg: Extract<Msg, { kind: 'req' }>): void {
    const name = msg.req.name;
    if (a.learning && !unsafeAmnesia) {
      return net.send(self, from, { kind: 'reply', name, attempt: msg.attempt, reply: { type: 'not-ready', reason: 'learning' } });
    }
    const step = acceptorStep(a.records.get(name) ?? EMPTY_RECORD, a.known.get(name) ?? null, msg.req);
    if (step.store) a.records.set(name, step.store); // durable before the reply
    let reply = step.reply;
    if (reply.type === 'accepted') {
      reply = { ...reply, vote: self };
      observeAccept(name, `${reply.ballot.round}/${reply.ballot.by}`, reply.value, self);
    }
    net.send(self, from, { kind: 'reply', name, attempt: msg.attempt, reply });
  }

  function drive(sp: SimProposer, sends: { to: string; req: AcceptorRequest }[]): void {
    if (sp.p.outcome) return finish(sp);
    if (sends.length > 0) {
      sp.attempt++;
      sp.answered = new Set();
      const attempt = sp.attempt;
      for (const s of sends) net.send(sp.id, s.to, { kind: 'req', req: s.req, attempt });
      net.at(net.now + CALL_TIMEOUT, () => {
        if (sp.attempt !== attempt || sp.p.outcome) return;
        for (const a of acceptorIds) if (!sp.answered.has(a)) sp.p.failed(a);
        drive(sp, []);
      });
      return;
    }
    if (sp.p.backingOff && !sp.p.outcome) {
      const attempt = sp.attempt;
      net.at(net.now + 1 + Math.floor(random() * 30), () => {
        if (sp.attempt === attempt) drive(sp, sp.p.retry());
      });
    }
  }

  function finish(sp: SimProposer): void {
    const o = sp.p.outcome!;
    if (outcomes.includes(o)) return;
    outcomes.push(o);
    if (o.type === 'chosen' || o.type === 'learned') {
      const before = chosen.get(sp.name);
      if (o.type === 'learned' && before && (before.key !== o.value.key || before.name !== o.value.name)) violations.push(`seed ${seed}: ${sp.name} learned ${o.value.key} but ${before.key} was chosen`);
      // The winner writes the certified create: it replicates to every machine, later.
      for (const id of acceptorIds) {
        net.at(net.now + 20 + Math.floor(random() * 200), () => {
          const a = acceptors.get(id)!;
          const create = { value: o.value, proof: `proof:${sp.name}` };
          a.replicated.set(sp.name, create);
          if (!a.catchingUp) a.known.set(sp.name, create);
        });
      }
    }
  }

  // Racing proposers: 2-4 per name, from any machine, at random times and rounds.
  for (const name of names) {
    const racers = 2 + Math.floor(random() * 3);
    for (let i = 0; i < racers; i++) {
      const node = acceptorIds[Math.floor(random() * n)];
      const id = `${node}.${name}${i}`;
      const value = { name: random() < 0.2 ? name.toUpperCase() : name, key: `K-${id}` };
      const sp: SimProposer = { id, node, name, attempt: 0, answered: new Set(), p: new NameProposer({ name: foldName(value.name), value, acceptors: acceptorIds, id, round: Math.floor(random() * 3) }) };
      proposers.set(id, sp);
      net.at(Math.floor(random() * 100), () => drive(sp, sp.p.start()));
    }
  }
  // Faults for the first 1.5 s: crashes with restarts, partitions, a lost data dir.
  const minority = Math.floor((n - 1) / 2);
  /** Machines out (crashed or learning) now: at most a minority at a time, or no majority is left to wait for. */
  const outNow = (): number =>
    acceptorIds.filter((id) => {
      const a = acceptors.get(id)!;
      return a.down || a.learning || a.catchingUp;
    }).length;
  for (let at = 50; at < 1500; at += 50 + Math.floor(random() * 100)) {
    const r = random();
    const victim = acceptorIds[Math.floor(random() * n)];
    const other = acceptorIds[Math.floor(random() * n)];
    const a = acceptors.get(victim)!;
    const back = at + 30 + Math.floor(random() * 300);
    if (r < 0.3) {
      net.at(at, () => {
        if (a.down || a.learning || outNow() >= minority) return;
        a.down = true;
        net.at(back, () => (a.down = false));
      });
    } else if (r < 0.5 && other !== victim) {
      net.at(at, () => net.partition(victim, other));
      net.at(back, () => net.heal());
    } else if (r < 0.6) {
      // A new data dir: its records and its room data are gone; it asks every peer for their records, and catches up.
      net.at(at, () => {
        if (a.down || a.learning || outNow() >= minority) return;
        a.records = new Map();
        a.known = new Map();
        a.learning = new Set(acceptorIds.filter((id) => id !== victim));
        // Its data catches up from the peers in its own time, before or after it votes again.
        a.catchingUp = true;
        net.at(net.now + 20 + Math.floor(random() * 400), () => {
          a.catchingUp = false;
          a.known = new Map(a.replicated);
        });
        const ask = (): void => {
          if (!a.learning) return;
          for (const peer of a.learning) net.send(victim, peer, { kind: 'sync' });
          net.at(net.now + 50, ask);
        };
        ask();
      });
    }
  }
  net.runUntil(1500);
  // Calm: every machine up and reachable, nothing lost. Every proposer must end.
  net.at(1500, () => {
    net.heal();
    net.calm();
    for (const a of acceptors.values()) a.down = false;
  });
  net.runUntil(6000);
  const unfinished = [...proposers.values()].filter((sp) => !sp.p.outcome).map((sp) => sp.id);
  return { violations, unfinished, outcomes };
}

t.test('at most one key is ever chosen per name, and every proposer ends once a majority is reachable (400 seeded runs)', async (t) => {
  const violations: string[] = [];
  const unfinished: string[] = [];
  let chosen = 0;
  let taken = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const r = simulate({ seed });
    violations.push(...r.violations);
    unfinished.push(...r.unfinished.map((id) => `seed ${seed}: ${id}`));
    chosen += r.outcomes.filter((o) => o.type === 'chosen').length;
    taken += r.outcomes.filter((o) => o.type === 'taken').length;
  }
  t.same(violations, [], 'no name chosen twice');
  t.same(unfinished.slice(0, 5), [], 'no proposer left without an answer');
  t.ok(chosen > 400 && taken > 100, `the runs exercised deciding (${chosen}) and refusing (${taken})`);
});

t.test('without the rule for lost records (a new data dir votes at once), names are chosen twice', async (t) => {
  let broken = 0;
  for (let seed = 1; seed <= 400 && broken === 0; seed++) broken += simulate({ seed, unsafeAmnesia: true }).violations.length;
  t.ok(broken > 0, 'the simulation can see the failure the rule prevents');
});

t.test("a machine without records votes again once every peer answered, or on a first start once a majority holds no accepted vote", async (t) => {
  const peers = ['m2', 'm3'];
  t.notOk(mayVoteAgain([], peers), 'alone: it waits');
  t.ok(mayVoteAgain([{ peer: 'm2', accepted: 0 }], peers), 'with one peer of three holding no accepted vote (promises aside): a first start, it votes');
  t.notOk(mayVoteAgain([{ peer: 'm2', accepted: 1 }], peers), 'a peer holding an accepted vote: it waits for every peer');
  t.ok(mayVoteAgain([{ peer: 'm2', accepted: 1 }, { peer: 'm3', accepted: 0 }], peers), 'every peer answered: it votes');
  t.notOk(mayVoteAgain([{ peer: 'm2', accepted: 0 }], ['m2', 'm3', 'm4']), 'of four machines, a majority is three');
});

t.test('ballots order by round, then proposer', async (t) => {
  t.ok(compareBallots({ round: 2, by: 'm1.a' }, { round: 1, by: 'm3.z' }) > 0);
  t.ok(compareBallots({ round: 2, by: 'm1.a' }, { round: 2, by: 'm1.b' }) < 0);
});
