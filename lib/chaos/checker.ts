/**
 * The chaos run's checker. Pure: the machines' final dumps and the clients'
 * history in, a verdict out. The reference is the dump most machines agree on;
 * the one order every machine must show is that dump's order.
 */
import { FAULT_KINDS, parsePostText, postKey, type FaultKind, type History, type PostOp, type ReaderLog, type Shown } from './history';

/** Each must be 0. */
export interface Violations {
  lost: number;
  duplicated: number;
  divergentMachines: number;
  authorOrder: number;
  shownTwice: number;
  neverShown: number;
  phantom: number;
}

export const VIOLATION_LABELS: Record<keyof Violations, string> = {
  lost: 'acknowledged posts lost',
  duplicated: 'posts stored twice',
  divergentMachines: 'machines whose dumps differ',
  authorOrder: 'per-author order violations',
  shownTwice: 'posts a reader was shown twice',
  neverShown: 'posts a reader was never shown',
  phantom: 'posts stored that no writer sent',
};

/** A client-visible stall: a post waiting for its ack, or a reader waiting for posts already acknowledged. */
export interface Stall {
  client: string;
  from: number;
  to: number;
}

export interface Verdict {
  ok: boolean;
  violations: Violations;
  /** Up to MAX_EXAMPLES explained cases per violation kind. */
  examples: Record<keyof Violations, string[]>;
  /** Posts shown before a post that, in the final order, comes before them. Allowed, but counted and explained. */
  reordered: { count: number; byReader: Record<string, number>; examples: string[]; explanation: string };
  stats: {
    sent: number;
    acknowledged: number;
    /** Sent but neither acknowledged nor refused when the writers stopped (outcome unknown to the writer). */
    unacknowledged: number;
    /** Of those, how many were stored anyway (allowed: the ack was lost, not the post). */
    storedUnacknowledged: number;
    failedAttempts: number;
    refused: number;
    stored: number;
    shown: number;
    unexpectedLines: number;
    streamInterruptions: number;
    convergeMs: number | null;
    longestPostStallMs: number;
    longestDeliveryDelayMs: number;
    longestStall: Stall | null;
    faults: Record<FaultKind, number>;
    faultTotal: number;
  };
  stalls: Stall[];
}

/** A post or a delivery slower than this is a stall on the timeline. */
export const STALL_MS = 1_000;
const MAX_EXAMPLES = 10;

export const REORDER_EXPLANATION =
  'A reader is shown each post when it reaches the reader\'s machine. A post that arrives late there ' +
  '(stored on a machine that was cut off, down or slow to replicate) may carry an earlier timestamp ' +
  'than posts already shown, so the final order, the same on every machine, puts it before them. ' +
  'Nothing is lost or duplicated: the late post is shown once, when it arrives.';

/** A workload post in the reference dump. */
export interface Stored {
  key: string;
  writer: string;
  n: number;
  origin: string;
  hlc: string;
}

/** A post first shown out of the final order, with how long the reader waited for the post that overtook it. */
export interface Reordering {
  waitMs: number;
  text: string;
}

/**
 * `startDump` is what the machines held when the faults began: the posts of a
 * generated history in it were never the workload's to send.
 */
export function check(history: History, dumps: Record<string, string>, startDump = ''): Verdict {
  if (Object.keys(dumps).length === 0) throw new Error('no dumps to check');
  const ops = new Map(history.posts.map((op) => [postKey(op.writer, op.n), op]));
  const reference = referenceDump(dumps);
  const { stored, phantom } = workloadPosts(lines(reference), new Set(lines(startDump)), ops);
  const rank = firstRanks(stored);
  // Every case of each violation, explained; counted in full, a few shown.
  const cases: Record<keyof Violations, string[]> = {
    lost: lostPosts(history.posts, dumps),
    duplicated: duplicatedPosts(stored),
    divergentMachines: divergentMachines(dumps, reference),
    authorOrder: authorOrderViolations(stored),
    shownTwice: history.readers.flatMap((r) => shownTwice(r)),
    neverShown: history.readers.flatMap((r) => neverShown(r, stored, rank, ops)),
    phantom,
  };
  const kinds = Object.keys(VIOLATION_LABELS) as (keyof Violations)[];
  const violations = Object.fromEntries(kinds.map((k) => [k, cases[k].length])) as unknown as Violations;

  const byReader: Record<string, number> = {};
  const reordered: Reordering[] = [];
  const stalls: Stall[] = [];
  let reorderedCount = 0;
  let longestDeliveryDelayMs = 0;
  for (const r of history.readers) {
    const firsts = firstShowings(r, rank);
    const late = reorderings(r.reader, firsts, stored, rank);
    byReader[r.reader] = late.count;
    reorderedCount += late.count;
    reordered.push(...late.examples);
    const delays = deliveryDelays(r, firsts, ops);
    longestDeliveryDelayMs = Math.max(longestDeliveryDelayMs, delays.longestMs);
    stalls.push(...delays.stalls);
  }
  const posting = postStalls(history);
  stalls.push(...posting.stalls);

  return {
    ok: Object.values(violations).every((v) => v === 0),
    violations,
    examples: Object.fromEntries(kinds.map((k) => [k, cases[k].slice(0, MAX_EXAMPLES)])) as Record<keyof Violations, string[]>,
    reordered: {
      count: reorderedCount,
      byReader,
      examples: reordered.sort((a, b) => b.waitMs - a.waitMs).slice(0, MAX_EXAMPLES).map((c) => c.text),
      explanation: REORDER_EXPLANATION,
    },
    stats: runStats(history, rank, { longestPostStallMs: posting.longestMs, longestDeliveryDelayMs, stalls }),
    stalls,
  };
}

/** Each machine whose dump is not the reference, with how many events it lacks and has extra. */
export function divergentMachines(dumps: Record<string, string>, reference: string): string[] {
  const refLines = lines(reference);
  const refSet = new Set(refLines);
  return Object.keys(dumps).sort().filter((m) => dumps[m] !== reference).map((m) => {
    const own = lines(dumps[m]);
    const ownSet = new Set(own);
    return `${m}: ${refLines.filter((l) => !ownSet.has(l)).length} events missing and ${own.filter((l) => !refSet.has(l)).length} extra compared with the reference dump`;
  });
}

/**
 * The workload's posts in the reference order (events held at the start left out),
 * and each post stored that no writer sent (a phantom).
 */
export function workloadPosts(refLines: string[], startLines: Set<string>, ops: Map<string, PostOp>): { stored: Stored[]; phantom: string[] } {
  const stored: Stored[] = [];
  const phantom: string[] = [];
  for (const line of refLines) {
    const e = JSON.parse(line) as { kind: string; author: string; text: string; origin: string; hlc: { wall: number; logical: number } };
    if (e.kind !== 'post' || startLines.has(line)) continue;
    const p = parsePostText(e.text);
    if (!p || p.writer !== e.author || !ops.has(postKey(p.writer, p.n))) {
      phantom.push(`${e.author}: "${e.text}" (stored by ${e.origin}) was never sent by the workload`);
      continue;
    }
    stored.push({ key: postKey(p.writer, p.n), writer: p.writer, n: p.n, origin: e.origin, hlc: `${e.hlc.wall}.${e.hlc.logical}` });
  }
  return { stored, phantom };
}

/** Each stored post's place in the reference order (its first copy's). */
function firstRanks(stored: Stored[]): Map<string, number> {
  const rank = new Map<string, number>();
  for (const [i, p] of stored.entries()) if (!rank.has(p.key)) rank.set(p.key, i);
  return rank;
}

/** Each post stored more than once. */
export function duplicatedPosts(stored: Stored[]): string[] {
  const copies = new Map<string, number>();
  for (const p of stored) copies.set(p.key, (copies.get(p.key) ?? 0) + 1);
  return [...copies].filter(([, n]) => n >= 2).map(([key, n]) => `${key} is stored ${n} times`);
}

/**
 * Each acknowledged post on no machine at all: a post missing from the reference
 * but present elsewhere is divergence, not loss.
 */
export function lostPosts(posts: PostOp[], dumps: Record<string, string>): string[] {
  const anywhere = new Set(Object.values(dumps).flatMap((d) => storedPostKeys(d)));
  return posts
    .filter((op) => op.ackAt !== null && !anywhere.has(postKey(op.writer, op.n)))
    .map((op) => `${postKey(op.writer, op.n)}: acknowledged at ${seconds(op.ackAt as number)} (stored by ${op.origin}), on no machine`);
}

/** Each post that sorts after a later post of the same writer. */
export function authorOrderViolations(stored: Stored[]): string[] {
  const out: string[] = [];
  const highest = new Map<string, Stored>();
  for (const p of stored) {
    const top = highest.get(p.writer);
    if (top && p.n < top.n) {
      out.push(`${p.key} (stored by ${p.origin}, hlc ${p.hlc}) sorts after ${top.key} (stored by ${top.origin}, hlc ${top.hlc}), which ${p.writer} posted after it`);
    } else highest.set(p.writer, p);
  }
  return out;
}

/** Each post a reader was shown more than once. */
export function shownTwice(r: ReaderLog): string[] {
  const seen = new Map<string, number>();
  for (const sh of r.shown) {
    const key = postKey(sh.writer, sh.n);
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return [...seen].filter(([, n]) => n >= 2).map(([key, n]) => `${r.reader} was shown ${key} ${n} times`);
}

/** Each stored post, sent while the reader was following, that it was never shown. */
export function neverShown(r: ReaderLog, stored: Stored[], rank: Map<string, number>, ops: Map<string, PostOp>): string[] {
  const seen = new Set(r.shown.map((sh) => postKey(sh.writer, sh.n)));
  const since = r.followingSince ?? 0;
  const out: string[] = [];
  for (const [i, p] of stored.entries()) {
    if (seen.has(p.key) || rank.get(p.key) !== i) continue;
    const op = ops.get(p.key) as PostOp;
    if (op.sentAt < since) continue;
    out.push(`${r.reader} was never shown ${p.key} (sent at ${seconds(op.sentAt)}, ${op.ackAt === null ? 'not acknowledged' : `acknowledged at ${seconds(op.ackAt)}`}, stored by ${p.origin})`);
  }
  return out;
}

/** A reader's first showing of each stored post, in the order shown. */
function firstShowings(r: ReaderLog, rank: Map<string, number>): Shown[] {
  const once = new Set<string>();
  return r.shown.filter((sh) => {
    const key = postKey(sh.writer, sh.n);
    if (once.has(key) || !rank.has(key)) return false;
    once.add(key);
    return true;
  });
}

/**
 * Posts first shown before a post that ranks lower (one that arrived late): how many,
 * and one example per late post (the first post it overtook) with the reader's wait.
 */
export function reorderings(reader: string, firsts: Shown[], stored: Stored[], rank: Map<string, number>): { count: number; examples: Reordering[] } {
  const ranks = firsts.map((sh) => rank.get(postKey(sh.writer, sh.n)) as number);
  // lowestAfter[i]: the index (in firsts) of the lowest-ranked post shown after position i.
  const lowestAfter: number[] = new Array(ranks.length).fill(-1);
  for (let i = ranks.length - 2; i >= 0; i--) {
    const next = lowestAfter[i + 1];
    lowestAfter[i] = next >= 0 && ranks[next] < ranks[i + 1] ? next : i + 1;
  }
  let count = 0;
  const examples: Reordering[] = [];
  for (let i = 0; i < ranks.length; i++) {
    const j = lowestAfter[i];
    if (j < 0 || ranks[j] > ranks[i]) continue;
    count++;
    if (i > 0 && lowestAfter[i - 1] === j && ranks[i - 1] > ranks[j]) continue;
    const [pa, pb] = [stored[ranks[i]], stored[ranks[j]]];
    examples.push({
      waitMs: firsts[j].at - firsts[i].at,
      text: `${reader} was shown ${pa.key} (stored by ${pa.origin}) at ${seconds(firsts[i].at)}, then ${pb.key} (stored by ${pb.origin}, an earlier timestamp) at ${seconds(firsts[j].at)}: the final order puts ${pb.key} first`,
    });
  }
  return { count, examples };
}

/** A reader's delivery delays: from the ack (or the send, if never acknowledged) to the first showing. */
function deliveryDelays(r: ReaderLog, firsts: Shown[], ops: Map<string, PostOp>): { longestMs: number; stalls: Stall[] } {
  const since = r.followingSince ?? 0;
  let longestMs = 0;
  const delays: Stall[] = [];
  for (const sh of firsts) {
    const op = ops.get(postKey(sh.writer, sh.n)) as PostOp;
    if (op.sentAt < since) continue;
    const from = op.ackAt ?? op.sentAt;
    longestMs = Math.max(longestMs, sh.at - from);
    if (sh.at - from > STALL_MS) delays.push({ client: r.reader, from, to: sh.at });
  }
  return { longestMs, stalls: merged(delays) };
}

/** Writers' waits: from the first attempt to the ack (or to the writers' stop, if none came). */
function postStalls(history: History): { longestMs: number; stalls: Stall[] } {
  let longestMs = 0;
  const stalls: Stall[] = [];
  for (const op of history.posts) {
    if (op.refused !== null) continue;
    const end = op.ackAt ?? history.phases.writersStopped;
    longestMs = Math.max(longestMs, end - op.sentAt);
    if (end - op.sentAt > STALL_MS) stalls.push({ client: op.writer, from: op.sentAt, to: end });
  }
  return { longestMs, stalls };
}

/** The run's counts and timings for the summary. */
function runStats(history: History, rank: Map<string, number>, timing: { longestPostStallMs: number; longestDeliveryDelayMs: number; stalls: Stall[] }): Verdict['stats'] {
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  for (const f of history.faults) faults[f.kind]++;
  const unacked = history.posts.filter((op) => op.ackAt === null && op.refused === null);
  const { converged, writersStopped } = history.phases;
  return {
    sent: history.posts.length,
    acknowledged: history.posts.filter((op) => op.ackAt !== null).length,
    unacknowledged: unacked.length,
    storedUnacknowledged: unacked.filter((op) => rank.has(postKey(op.writer, op.n))).length,
    failedAttempts: history.posts.reduce((n, op) => n + op.failures.length, 0),
    refused: history.posts.filter((op) => op.refused !== null).length,
    stored: rank.size,
    shown: history.readers.reduce((n, r) => n + r.shown.length, 0),
    unexpectedLines: history.readers.reduce((n, r) => n + r.strange.length, 0),
    streamInterruptions: history.readers.reduce((n, r) => n + r.notes.length, 0),
    convergeMs: converged === null ? null : Math.max(0, converged - writersStopped),
    longestPostStallMs: timing.longestPostStallMs,
    longestDeliveryDelayMs: timing.longestDeliveryDelayMs,
    longestStall: timing.stalls.reduce<Stall | null>((a, b) => (a && a.to - a.from >= b.to - b.from ? a : b), null),
    faults,
    faultTotal: history.faults.length,
  };
}

/** The dump most machines hold (ties: the first machine's, by name): the one order to check against. */
export function referenceDump(dumps: Record<string, string>): string {
  const values = Object.keys(dumps).sort().map((m) => dumps[m]);
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best = values[0];
  for (const v of values) if ((counts.get(v) as number) > (counts.get(best) as number)) best = v;
  return best;
}

/** The keys of the workload posts in a dump, in its order. */
export function storedPostKeys(dump: string): string[] {
  return lines(dump).flatMap((l) => {
    const e = JSON.parse(l) as { kind: string; author: string; text: string };
    const p = e.kind === 'post' ? parsePostText(e.text) : null;
    return p && p.writer === e.author ? [postKey(p.writer, p.n)] : [];
  });
}

function lines(dump: string): string[] {
  return dump.split('\n').filter((l) => l !== '');
}

/** Overlapping intervals of one client joined into one. */
function merged(intervals: Stall[]): Stall[] {
  const out: Stall[] = [];
  for (const iv of [...intervals].sort((a, b) => a.from - b.from)) {
    const last = out[out.length - 1];
    if (last && iv.from <= last.to) last.to = Math.max(last.to, iv.to);
    else out.push({ ...iv });
  }
  return out;
}

/** A duration for people: "1.5 s". */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
