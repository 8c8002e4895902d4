/**
 * The chaos checker on crafted histories: a clean run passes, and each kind of
 * violation is found, counted and explained. Reordering (allowed) is counted but
 * does not fail the run.
 */
import t from 'tap';
import { check, reorderings, type Stored } from '../../lib/chaos/checker';
import { postClientId, postText, type History, type PostOp, type ReaderLog } from '../../lib/chaos/history';
import { eventToLine, type ChatEvent } from '../../lib/core/event';
import { ev } from '../helpers/events';

const MACHINES = ['m1', 'm2', 'm3'];

/** A stored workload post: writer, number, and where it sorts (its hlc wall). */
function stored(writer: string, n: number, wall: number, origin = 'm1.w0', seq = wall): ChatEvent {
  return ev({ origin, seq, kind: 'post', author: writer, room: writer, id: `post/${writer}/${postClientId(writer, n)}`, text: postText(writer, n), hlc: { wall, logical: 0 } });
}

function dumpOf(events: ChatEvent[]): string {
  return [...events].sort((a, b) => a.hlc.wall - b.hlc.wall).map((e) => `${eventToLine(e)}\n`).join('');
}

function sameEverywhere(events: ChatEvent[]): Record<string, string> {
  return Object.fromEntries(MACHINES.map((m) => [m, dumpOf(events)]));
}

function op(writer: string, n: number, sentAt: number, ackAt: number | null = sentAt + 5): PostOp {
  return { writer, n, sentAt, ackAt, origin: ackAt === null ? null : 'm1.w0', failures: [], refused: null };
}

function reader(name: string, shown: [string, number, number][], followingSince = 0): ReaderLog {
  return { reader: name, followingSince, shown: shown.map(([writer, n, at]) => ({ writer, n, at })), strange: [], notes: [] };
}

function history(posts: PostOp[], readers: ReaderLog[]): History {
  return {
    seed: 1,
    faultWindowMs: 10_000,
    writers: ['w1', 'w2'],
    posts,
    readers,
    faults: [{ kind: 'kill', machine: 'm2', at: 500, healedAt: null, target: 'worker pid 1' }],
    phases: { healed: 10_000, healthy: 10_500, writersStopped: 11_000, converged: 11_400, end: 12_000 },
    startedAt: 0,
  };
}

// The clean run: w1 posts 1..3, w2 posts 1..2, both readers shown all five in the final order.
const posts = [op('w1', 1, 100), op('w2', 1, 150), op('w1', 2, 200), op('w2', 2, 250), op('w1', 3, 300)];
const events = [stored('w1', 1, 101), stored('w2', 1, 151, 'm2.w0'), stored('w1', 2, 201), stored('w2', 2, 251, 'm2.w0'), stored('w1', 3, 301)];
const inOrder: [string, number, number][] = [['w1', 1, 110], ['w2', 1, 160], ['w1', 2, 210], ['w2', 2, 260], ['w1', 3, 310]];

t.test('a clean history passes with every count at zero', async (t) => {
  const v = check(history(posts, [reader('r1', inOrder), reader('r2', inOrder)]), sameEverywhere(events));
  t.equal(v.ok, true);
  t.same(v.violations, { lost: 0, duplicated: 0, divergentMachines: 0, authorOrder: 0, shownTwice: 0, neverShown: 0, phantom: 0 });
  t.equal(v.reordered.count, 0, 'nothing reordered');
  t.equal(v.stats.acknowledged, 5);
  t.equal(v.stats.stored, 5);
  t.equal(v.stats.convergeMs, 400, 'converged 400 ms after the writers stopped');
  t.equal(v.stats.faults.kill, 1, 'faults counted by kind');
  t.same(v.stalls, [], 'no stalls');
});

t.test('an acknowledged post on no machine is lost', async (t) => {
  const v = check(history(posts, [reader('r1', inOrder.slice(0, 4))]), sameEverywhere(events.slice(0, 4)));
  t.equal(v.ok, false);
  t.equal(v.violations.lost, 1);
  t.match(v.examples.lost[0], /w1 #3: acknowledged at 0\.3 s/);
});

t.test('an unacknowledged post may be missing, or stored anyway', async (t) => {
  const unacked = [...posts.slice(0, 4), op('w1', 3, 300, null)];
  const missing = check(history(unacked, [reader('r1', inOrder.slice(0, 4))]), sameEverywhere(events.slice(0, 4)));
  t.equal(missing.ok, true, 'missing: not a loss');
  t.equal(missing.stats.unacknowledged, 1);
  const kept = check(history(unacked, [reader('r1', inOrder)]), sameEverywhere(events));
  t.equal(kept.ok, true, 'stored: not a phantom');
  t.equal(kept.stats.storedUnacknowledged, 1);
});

t.test('a post stored twice is found', async (t) => {
  const twice = [...events, { ...stored('w2', 2, 400, 'm3.w1'), id: 'post/w2/another-id' }];
  const v = check(history(posts, [reader('r1', inOrder)]), sameEverywhere(twice));
  t.equal(v.violations.duplicated, 1);
  t.match(v.examples.duplicated[0], /w2 #2 is stored 2 times/);
});

t.test('a machine whose dump differs from the others is found, and what it lacks is said', async (t) => {
  const dumps = { ...sameEverywhere(events), m3: dumpOf(events.slice(0, 3)) };
  const v = check(history(posts, [reader('r1', inOrder)]), dumps);
  t.equal(v.violations.divergentMachines, 1);
  t.equal(v.violations.lost, 0, 'the posts m3 lacks are on the others: divergence, not loss');
  t.match(v.examples.divergentMachines[0], /^m3: 2 events missing and 0 extra/);
});

t.test('an author whose later post sorts before an earlier one is an order violation', async (t) => {
  // w1 #3 is stamped before w1 #2 (e.g. by a machine whose clock runs behind).
  const skewed = [stored('w1', 1, 101), stored('w2', 1, 151), stored('w1', 2, 201), stored('w2', 2, 251), stored('w1', 3, 190, 'm3.w0', 1)];
  const shown: [string, number, number][] = [['w1', 1, 110], ['w2', 1, 160], ['w1', 3, 305], ['w1', 2, 310], ['w2', 2, 320]];
  const v = check(history(posts, [reader('r1', shown)]), sameEverywhere(skewed));
  t.equal(v.violations.authorOrder, 1);
  t.match(v.examples.authorOrder[0], /w1 #2 .* sorts after w1 #3/);
});

t.test('a post shown twice to a reader is found', async (t) => {
  const v = check(history(posts, [reader('r1', [...inOrder, ['w2', 2, 400]])]), sameEverywhere(events));
  t.equal(v.violations.shownTwice, 1);
  t.match(v.examples.shownTwice[0], /r1 was shown w2 #2 2 times/);
});

t.test('a post never shown to a reader that was following is found; one sent before it followed is not', async (t) => {
  const v = check(history(posts, [reader('r1', inOrder.filter(([, n]) => n !== 2))]), sameEverywhere(events));
  t.equal(v.violations.neverShown, 2, 'w1 #2 and w2 #2');
  t.match(v.examples.neverShown.join('\n'), /r1 was never shown w1 #2 \(sent at 0\.2 s, acknowledged at 0\.2 s, stored by m1\.w0\)/);
  const late = check(history(posts, [reader('r1', inOrder.slice(2), 180)]), sameEverywhere(events));
  t.equal(late.violations.neverShown, 0, 'posts sent before the reader followed are not owed to it');
});

t.test('a stored post that no writer sent is a phantom', async (t) => {
  const v = check(history(posts, [reader('r1', inOrder)]), sameEverywhere([...events, stored('w9', 1, 500)]));
  t.equal(v.violations.phantom, 1);
  t.match(v.examples.phantom[0], /w9: "w9 #1"/);
});

t.test('posts of a history the machines held before the faults began are not phantoms; one stored later is', async (t) => {
  const old = [stored('u1', 1, 10, 'm2.w0', 1), stored('u2', 1, 20, 'm3.w1', 1)];
  const late = stored('u1', 2, 600, 'm2.w0', 2);
  const v = check(history(posts, [reader('r1', inOrder)]), sameEverywhere([...old, ...events, late]), dumpOf(old));
  t.equal(v.violations.phantom, 1, 'only the post stored after the start');
  t.match(v.examples.phantom[0], /u1: "u1 #2"/);
  t.equal(v.stats.stored, 5, 'the history is not counted as the workload\'s');
});

t.test('posts shown in an order that later changed are counted and explained, and allowed', async (t) => {
  // r1 sees w2 #2 before w1 #2 arrives late (its machine was cut off), though w1 #2 sorts first.
  const late: [string, number, number][] = [['w1', 1, 110], ['w2', 1, 160], ['w2', 2, 260], ['w1', 2, 900], ['w1', 3, 910]];
  const v = check(history(posts, [reader('r1', late), reader('r2', inOrder)]), sameEverywhere(events));
  t.equal(v.ok, true, 'not a violation');
  t.equal(v.reordered.count, 1, 'one post (w2 #2) was shown before a post that sorts before it');
  t.same(v.reordered.byReader, { r1: 1, r2: 0 });
  t.match(v.reordered.examples[0], /r1 was shown w2 #2 \(stored by m2\.w0\) at 0\.3 s, then w1 #2 .* at 0\.9 s/);
  t.match(v.reordered.explanation, /arrives late/);
});

t.test('slow acks and late deliveries are client stalls', async (t) => {
  const slow = [...posts.slice(0, 4), { ...op('w1', 3, 300, 2_800), failures: [2_300] }];
  const shown: [string, number, number][] = [...inOrder.slice(0, 4), ['w1', 3, 6_000]];
  const v = check(history(slow, [reader('r1', shown)]), sameEverywhere(events));
  t.equal(v.ok, true);
  t.equal(v.stats.longestPostStallMs, 2_500, 'send to ack');
  t.equal(v.stats.longestDeliveryDelayMs, 3_200, 'ack to shown');
  t.equal(v.stats.failedAttempts, 1);
  t.same(v.stalls, [{ client: 'r1', from: 2_800, to: 6_000 }, { client: 'w1', from: 300, to: 2_800 }]);
  t.same(v.stats.longestStall, { client: 'r1', from: 2_800, to: 6_000 });
});

t.test('a post that arrives after several others it sorts before counts each of them, with one example', async (t) => {
  const order: Stored[] = ['w1', 'w2', 'w3', 'w4'].map((w, i) => ({ key: `${w} #1`, writer: w, n: 1, origin: `m${i + 1}.w0`, hlc: `${i}.0` }));
  const rank = new Map(order.map((p, i) => [p.key, i]));
  // w1 #1 sorts first but is shown last, after the three that sort after it.
  const firsts = [['w2', 200], ['w3', 300], ['w4', 400], ['w1', 1_500]].map(([w, at]) => ({ writer: w as string, n: 1, at: at as number }));
  const late = reorderings('r1', firsts, order, rank);
  t.equal(late.count, 3, 'w2, w3 and w4 were each shown before w1');
  t.equal(late.examples.length, 1, 'one example for the one late post');
  t.equal(late.examples[0].waitMs, 1_300, 'from the first post it overtook to its showing');
  t.same(reorderings('r1', [...firsts].sort((a, b) => rank.get(`${a.writer} #1`)! - rank.get(`${b.writer} #1`)!), order, rank), { count: 0, examples: [] }, 'shown in the final order: none');
});
