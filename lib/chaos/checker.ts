/**
 * The chaos run's checker. Pure: the machines' final dumps and the clients'
 * history in, a verdict out. The reference is the dump most machines agree on;
 * the one order every machine must show is that dump's order.
 */
import { FAULT_KINDS, parsePostText, postKey, type FaultKind, type History, type PostOp } from './history';

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

interface Stored {
  key: string;
  writer: string;
  n: number;
  origin: string;
  hlc: string;
}

/**
 * `startDump` is what the machines held when the faults began: the posts of a
 * generated history in it were never the workload's to send.
 */
export function check(history: History, dumps: Record<string, string>, startDump = ''): Verdict {
  const machines = Object.keys(dumps).sort();
  if (machines.length === 0) throw new Error('no dumps to check');
  const examples = Object.fromEntries(Object.keys(VIOLATION_LABELS).map((k) => [k, [] as string[]])) as Record<keyof Violations, string[]>;
  const note = (kind: keyof Violations, text: string): void => {
    if (examples[kind].length < MAX_EXAMPLES) examples[kind].push(text);
  };
  const ops = new Map(history.posts.map((op) => [postKey(op.writer, op.n), op]));

  const reference = referenceDump(dumps);
  const refLines = lines(reference);
  const refSet = new Set(refLines);
  let divergentMachines = 0;
  for (const m of machines) {
    if (dumps[m] === reference) continue;
    divergentMachines++;
    const own = lines(dumps[m]);
    const ownSet = new Set(own);
    note('divergentMachines', `${m}: ${refLines.filter((l) => !ownSet.has(l)).length} events missing and ${own.filter((l) => !refSet.has(l)).length} extra compared with the reference dump`);
  }

  // Posts in the reference order.
  const startLines = new Set(lines(startDump));
  const stored: Stored[] = [];
  let phantom = 0;
  for (const line of refLines) {
    const e = JSON.parse(line) as { kind: string; author: string; text: string; origin: string; hlc: { wall: number; logical: number } };
    if (e.kind !== 'post' || startLines.has(line)) continue;
    const p = parsePostText(e.text);
    if (!p || p.writer !== e.author || !ops.has(postKey(p.writer, p.n))) {
      phantom++;
      note('phantom', `${e.author}: "${e.text}" (stored by ${e.origin}) was never sent by the workload`);
      continue;
    }
    stored.push({ key: postKey(p.writer, p.n), writer: p.writer, n: p.n, origin: e.origin, hlc: `${e.hlc.wall}.${e.hlc.logical}` });
  }
  const rank = new Map<string, number>();
  const copies = new Map<string, number>();
  for (const [i, p] of stored.entries()) {
    if (!rank.has(p.key)) rank.set(p.key, i);
    copies.set(p.key, (copies.get(p.key) ?? 0) + 1);
  }
  let duplicated = 0;
  for (const [key, n] of copies) {
    if (n < 2) continue;
    duplicated++;
    note('duplicated', `${key} is stored ${n} times`);
  }

  // Anywhere at all: a post missing from the reference but present elsewhere is divergence, not loss.
  const anywhere = new Set(machines.flatMap((m) => storedPostKeys(dumps[m])));
  let lost = 0;
  for (const op of history.posts) {
    if (op.ackAt === null || anywhere.has(postKey(op.writer, op.n))) continue;
    lost++;
    note('lost', `${postKey(op.writer, op.n)}: acknowledged at ${seconds(op.ackAt)} (stored by ${op.origin}), on no machine`);
  }

  let authorOrder = 0;
  const highest = new Map<string, Stored>();
  for (const p of stored) {
    const top = highest.get(p.writer);
    if (top && p.n < top.n) {
      authorOrder++;
      note('authorOrder', `${p.key} (stored by ${p.origin}, hlc ${p.hlc}) sorts after ${top.key} (stored by ${top.origin}, hlc ${top.hlc}), which ${p.writer} posted after it`);
    } else highest.set(p.writer, p);
  }

  // What each reader was shown.
  let shownTwice = 0;
  let neverShown = 0;
  let reorderedCount = 0;
  const byReader: Record<string, number> = {};
  const reorderCandidates: { waitMs: number; text: string }[] = [];
  const stalls: Stall[] = [];
  let longestDeliveryDelayMs = 0;
  for (const r of history.readers) {
    const seen = new Map<string, number>();
    for (const sh of r.shown) {
      const key = postKey(sh.writer, sh.n);
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    for (const [key, n] of seen) {
      if (n < 2) continue;
      shownTwice++;
      note('shownTwice', `${r.reader} was shown ${key} ${n} times`);
    }
    const since = r.followingSince ?? 0;
    for (const [i, p] of stored.entries()) {
      if (seen.has(p.key) || rank.get(p.key) !== i) continue;
      const op = ops.get(p.key) as PostOp;
      if (op.sentAt < since) continue;
      neverShown++;
      note('neverShown', `${r.reader} was never shown ${p.key} (sent at ${seconds(op.sentAt)}, ${op.ackAt === null ? 'not acknowledged' : `acknowledged at ${seconds(op.ackAt)}`}, stored by ${p.origin})`);
    }

    // First showings in rank order: a post shown before one that ranks lower was reordered later.
    const once = new Set<string>();
    const firsts = r.shown.filter((sh) => {
      const key = postKey(sh.writer, sh.n);
      if (once.has(key) || !rank.has(key)) return false;
      once.add(key);
      return true;
    });
    const ranks = firsts.map((sh) => rank.get(postKey(sh.writer, sh.n)) as number);
    // lowestAfter[i]: the index (in firsts) of the lowest-ranked post shown after position i.
    const lowestAfter: number[] = new Array(ranks.length).fill(-1);
    for (let i = ranks.length - 2; i >= 0; i--) {
      const next = lowestAfter[i + 1];
      lowestAfter[i] = next >= 0 && ranks[next] < ranks[i + 1] ? next : i + 1;
    }
    let count = 0;
    for (let i = 0; i < ranks.length; i++) {
      const j = lowestAfter[i];
      if (j < 0 || ranks[j] > ranks[i]) continue;
      count++;
      // One candidate example per late post (the first post it overtook); the longest waits are shown.
      if (i > 0 && lowestAfter[i - 1] === j && ranks[i - 1] > ranks[j]) continue;
      const [pa, pb] = [stored[ranks[i]], stored[ranks[j]]];
      reorderCandidates.push({
        waitMs: firsts[j].at - firsts[i].at,
        text: `${r.reader} was shown ${pa.key} (stored by ${pa.origin}) at ${seconds(firsts[i].at)}, then ${pb.key} (stored by ${pb.origin}, an earlier timestamp) at ${seconds(firsts[j].at)}: the final order puts ${pb.key} first`,
      });
    }
    byReader[r.reader] = count;
    reorderedCount += count;

    // Delivery delays: from the ack (or the send, if never acknowledged) to the showing.
    const delays: Stall[] = [];
    for (const sh of firsts) {
      const op = ops.get(postKey(sh.writer, sh.n)) as PostOp;
      if (op.sentAt < since) continue;
      const from = op.ackAt ?? op.sentAt;
      longestDeliveryDelayMs = Math.max(longestDeliveryDelayMs, sh.at - from);
      if (sh.at - from > STALL_MS) delays.push({ client: r.reader, from, to: sh.at });
    }
    stalls.push(...merged(delays));
  }

  // Writers: from the first attempt to the ack (or to the writers' stop, if none came).
  let longestPostStallMs = 0;
  for (const op of history.posts) {
    if (op.refused !== null) continue;
    const end = op.ackAt ?? history.phases.writersStopped;
    longestPostStallMs = Math.max(longestPostStallMs, end - op.sentAt);
    if (end - op.sentAt > STALL_MS) stalls.push({ client: op.writer, from: op.sentAt, to: end });
  }
  const longestStall = stalls.reduce<Stall | null>((a, b) => (a && a.to - a.from >= b.to - b.from ? a : b), null);

  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  for (const f of history.faults) faults[f.kind]++;
  const unacked = history.posts.filter((op) => op.ackAt === null && op.refused === null);
  const violations: Violations = { lost, duplicated, divergentMachines, authorOrder, shownTwice, neverShown, phantom };
  return {
    ok: Object.values(violations).every((v) => v === 0),
    violations,
    examples,
    reordered: {
      count: reorderedCount,
      byReader,
      examples: reorderCandidates.sort((a, b) => b.waitMs - a.waitMs).slice(0, MAX_EXAMPLES).map((c) => c.text),
      explanation: REORDER_EXPLANATION,
    },
    stats: {
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
      convergeMs: history.phases.converged === null ? null : Math.max(0, history.phases.converged - history.phases.writersStopped),
      longestPostStallMs,
      longestDeliveryDelayMs,
      longestStall,
      faults,
      faultTotal: history.faults.length,
    },
    stalls,
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
