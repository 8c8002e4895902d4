/**
 * What a checkpoint's write-ahead log position tells a load: the rooms to read
 * again are exactly those the records from it on name (void ones aside), and where
 * the log cannot tell (a segment retired or missing, a record unreadable before the
 * end, a position past the end, a name that is no room), the answer is why, so the
 * load reads every room file. A checkpoint's position is the first record past its
 * offsets.
 */
import t from 'tap';
import { asWalPosition, firstUncovered, roomsAfter, type WalPosition } from '../../lib/core/wal-position';
import { encodeRecord, RecordState, type WalPart } from '../../lib/core/wal-record';

const part = (room: string, offset: number, bytes = 10): WalPart => ({ room, offset, data: Buffer.alloc(bytes, 0x61) });

/** A record with its state set, as a writer leaves it once done. */
function record(parts: WalPart[], state = RecordState.Applied): Buffer {
  const buf = encodeRecord(parts);
  buf.writeUInt8(state, buf.length - 5);
  return buf;
}

/** Segments by number, and a reader over them. */
function log(segments: Record<number, Buffer[]>): { numbers: number[]; read: (n: number) => Buffer | null; starts: Record<number, number[]> } {
  const bufs = new Map(Object.entries(segments).map(([n, recs]) => [Number(n), Buffer.concat(recs)]));
  const starts: Record<number, number[]> = {};
  for (const [n, recs] of Object.entries(segments)) {
    let at = 0;
    starts[Number(n)] = recs.map((r) => ((at += r.length), at - r.length));
  }
  return { numbers: [...bufs.keys()].sort((a, b) => a - b), read: (n) => bufs.get(n) ?? null, starts };
}

const sorted = (v: Set<string> | string): string[] | string => (typeof v === 'string' ? v : [...v].sort());

t.test('the rooms named from a position on, across segments; void records are skipped, pending ones count', async (t) => {
  const l = log({
    4: [record([part('ann', 0)]), record([part('bob', 0), part('cat', 0)])],
    5: [record([part('dan', 0)], RecordState.Void), record([part('eve', 0)], RecordState.Pending)],
  });
  t.same(sorted(roomsAfter({ segment: 4, offset: 0 }, l.numbers, l.read, 'skip')), ['ann', 'bob', 'cat', 'eve']);
  t.same(sorted(roomsAfter({ segment: 4, offset: l.starts[4][1] }, l.numbers, l.read, 'skip')), ['bob', 'cat', 'eve'], 'from the second record');
  t.same(sorted(roomsAfter({ segment: 5, offset: 0 }, l.numbers, l.read, 'skip')), ['eve'], 'from the last segment');
  const end = l.read(5)?.length ?? 0;
  t.same(sorted(roomsAfter({ segment: 5, offset: end }, l.numbers, l.read, 'skip')), [], 'at the end: nothing to read');
  t.same(sorted(roomsAfter({ segment: 4, offset: 0 }, l.numbers, l.read, 'count')), ['ann', 'bob', 'cat', 'dan', 'eve'], 'a writer catching up counts the void record too: its room file changed');
});

t.test('a record being appended at the very end is not read yet: the log ends before it', async (t) => {
  const whole = record([part('ann', 0)]);
  const torn = record([part('bob', 0)]).subarray(0, 20);
  const l = log({ 0: [whole, torn] });
  t.same(sorted(roomsAfter({ segment: 0, offset: 0 }, l.numbers, l.read, 'skip')), ['ann']);
  t.same(firstUncovered({ segment: 0, offset: 0 }, l.numbers, l.read, () => 1_000), { segment: 0, offset: whole.length }, 'and a checkpoint position stops before it');
});

t.test('where the log cannot tell, the answer is why (the load reads every room file)', async (t) => {
  const a = record([part('ann', 0)]);
  const b = record([part('bob', 0)]);
  const l = log({ 2: [a], 3: [b] });
  t.match(roomsAfter({ segment: 1, offset: 0 }, l.numbers, l.read, 'skip'), /segment 1 is gone/, 'a retired segment');
  const gap = log({ 2: [a], 4: [b] });
  t.match(roomsAfter({ segment: 2, offset: 0 }, gap.numbers, gap.read, 'skip'), /segment 3 is missing/, 'a segment missing in between');
  t.match(roomsAfter({ segment: 2, offset: 0 }, l.numbers, (n) => (n === 3 ? null : l.read(n)), 'skip'), /segment 3 is gone/, 'a segment retired while being read');
  t.match(roomsAfter({ segment: 2, offset: a.length + 1 }, l.numbers, l.read, 'skip'), /shorter than the position/, 'a position past the segment');
  t.match(roomsAfter({ segment: 2, offset: 3 }, l.numbers, l.read, 'skip'), /unreadable record at 3/, 'a position inside a record');
  const rotten = Buffer.from(a);
  rotten[20] ^= 0xff;
  const mid = log({ 2: [rotten], 3: [b] });
  t.match(roomsAfter({ segment: 2, offset: 0 }, mid.numbers, mid.read, 'skip'), /segment 2 has an unreadable record at 0 \(fails its checksum\)/, 'a corrupt record before the end');
  const last = log({ 2: [a, rotten, b] });
  t.match(roomsAfter({ segment: 2, offset: 0 }, last.numbers, last.read, 'skip'), /unreadable record/, 'a corrupt (not torn) record in the last segment');
  const cutEarly = log({ 2: [a, b.subarray(0, 30)], 3: [b] });
  t.match(roomsAfter({ segment: 2, offset: 0 }, cutEarly.numbers, cutEarly.read, 'skip'), /segment 2 has an unreadable record .*torn/, 'a torn record with a segment after it');
  const named = log({ 0: [record([part('../etc', 0)])] });
  t.match(roomsAfter({ segment: 0, offset: 0 }, named.numbers, named.read, 'skip'), /names no valid room/, 'a name that is no room');
});

t.test('a checkpoint position is the first record not within its offsets, void records aside', async (t) => {
  const l = log({
    7: [record([part('ann', 0), part('bob', 0)]), record([part('ann', 10)], RecordState.Void), record([part('ann', 10)])],
    8: [record([part('bob', 10)]), record([part('cat', 0)])],
  });
  const from: WalPosition = { segment: 7, offset: 0 };
  const covered = (offsets: Record<string, number>) => (room: string) => offsets[room] ?? 0;
  t.same(firstUncovered(from, l.numbers, l.read, covered({})), from, 'nothing covered: where it started');
  t.same(firstUncovered(from, l.numbers, l.read, covered({ ann: 10, bob: 10 })), { segment: 7, offset: l.starts[7][2] }, 'past the void one, at the first uncovered');
  t.same(firstUncovered(from, l.numbers, l.read, covered({ ann: 20, bob: 10 })), { segment: 8, offset: 0 }, 'in the next segment');
  t.same(firstUncovered(from, l.numbers, l.read, covered({ ann: 20, bob: 20 })), { segment: 8, offset: l.starts[8][1] });
  t.same(firstUncovered(from, l.numbers, l.read, covered({ ann: 20, bob: 20, cat: 10 })), { segment: 8, offset: l.read(8)?.length }, 'all covered: the end');
  t.same(firstUncovered(from, l.numbers, l.read, covered({ ann: 10, bob: 5 })), from, 'a record half covered is not covered');
  // What a load then reads is exactly the rooms with bytes past the offsets.
  const at = firstUncovered(from, l.numbers, l.read, covered({ ann: 20, bob: 10 })) as WalPosition;
  t.same(sorted(roomsAfter(at, l.numbers, l.read, 'skip')), ['bob', 'cat']);
  t.match(firstUncovered({ segment: 6, offset: 0 }, l.numbers, l.read, covered({})), /gone/, 'from a retired segment: unknown');
});

t.test('a checkpoint header position is taken only when well formed', async (t) => {
  t.same(asWalPosition({ segment: 2, offset: 40 }), { segment: 2, offset: 40 });
  for (const bad of [undefined, null, 7, { segment: -1, offset: 0 }, { segment: 1 }, { segment: 1, offset: 0.5 }, { segment: '1', offset: 0 }]) {
    t.equal(asWalPosition(bad), null, JSON.stringify(bad) ?? 'undefined');
  }
});
