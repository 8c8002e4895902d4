/**
 * A faulty replication peer: a machine of the config that is never started, whose
 * peer port serves a fixed log of raw events (valid ones, ones out of bounds or of
 * the wrong shape, random ones) to every replicator that pulls from it. The log is
 * the same for every puller (one content per (origin, seq)), so what the cluster
 * stores from it must converge; what it refuses must be refused everywhere.
 */
import fc from 'fast-check';
import * as grpc from '@grpc/grpc-js';
import type * as protobuf from 'protobufjs';
import { MAX_LOGICAL } from '../../lib/core/hlc';
import { SECRET_HEADER } from '../../lib/common/secret';
import { encode, type Field } from '../helpers/raw-grpc';
import { requestBytesArb, type WirePools } from './wire-arbitraries';
import type { ClusterConfig } from '../../lib/common/config';
import { machinePortCredentials } from '../../lib/common/transport-security';

export interface FakePeer {
  /** Batches sent and log entries in them. */
  stats: { pulls: number; batches: number; events: number };
  close(): Promise<void>;
}

interface Entry {
  bytes: Buffer;
  origin: string;
  seq: number;
  /** Shipped as a stored line (EventBatch.lines), not as an Event message. */
  line: boolean;
}

/** A log entry shipped as a stored line: a room file's line, without its newline. */
export interface StoredLine {
  line: Buffer;
}

const DAY = 24 * 3600 * 1000;

/** One origin's events: valid ones as a worker writes them, then maybe one thing wrong, then more valid ones (which must stay out: no gap). */
function originLogArb(k: number): fc.Arbitrary<Field[][]> {
  const origin = `m4.fz${k}.w0`;
  const user = `peer${k}`;
  const now = Date.now();
  const valid = (seq: number): Field[] => {
    const common: Field[] = [[2, origin], [3, seq], [8, [[1, now + seq], [2, 0]]]];
    return seq === 1
      ? [[1, `create/${user}`], ...common, [4, 'create'], [5, user], [6, user]]
      : [[1, `post/${user}/c${seq}`], ...common, [4, 'post'], [5, user], [6, user], [7, `peer post ${seq}`]];
  };
  const wrongs: ((seq: number) => Field[])[] = [
    (seq) => [...valid(seq).filter(([t]) => t !== 5), [5, 'victim']], // a post in another user's room
    (seq) => [...valid(seq).filter(([t]) => t !== 1), [1, `post/victim/c${seq}`]], // in another author's namespace
    (seq) => [...valid(seq).filter(([t]) => t !== 8), [8, [[1, now + 3 * DAY], [2, 0]]]], // far in the future
    (seq) => [...valid(seq).filter(([t]) => t !== 8), [8, [[1, 2n ** 60n], [2, MAX_LOGICAL]]]], // past 2^53
    (seq) => [...valid(seq).filter(([t]) => t !== 7), [7, 'x'.repeat(1001)]], // too long
    (seq) => [...valid(seq).filter(([t]) => t !== 4), [4, 'delete']], // no such kind
    (seq) => [...valid(seq).filter(([t]) => t !== 5 && t !== 6), [5, '../../etc'], [6, '../../etc']],
    (seq) => [...valid(seq).filter(([t]) => t !== 7), [7, 'two\nlines']],
  ];
  return fc.tuple(fc.integer({ min: 1, max: 4 }), fc.option(fc.nat(wrongs.length - 1)), fc.integer({ min: 0, max: 2 })).map(([good, wrong, after]) => {
    const log = Array.from({ length: good }, (_, i) => valid(i + 1));
    if (wrong === null) return log;
    log.push(wrongs[wrong](good + 1));
    for (let i = 0; i < after; i++) log.push(valid(good + 2 + i));
    return log;
  });
}

/**
 * The fuzz's faulty peer log: 40 origins of shaped events (originLogArb) and 300
 * random Event messages, with one content per (origin, seq): a peer that sent two
 * would be Byzantine, which no check can catch.
 */
export function fuzzPeerLog(root: protobuf.Root, pools: WirePools, seed: number): Buffer[] {
  const Event = root.lookupType('ftchat.Event');
  const shaped = fc.sample(fc.tuple(...Array.from({ length: 40 }, (_, k) => originLogArb(k))), { seed, numRuns: 1 })[0].flat();
  const random = fc.sample(requestBytesArb(Event, { ...pools, origins: ['m4.rnd.w0', 'm4.rnd.w1'] }), { seed: seed + 1, numRuns: 300 });
  const seen = new Set<string>();
  return [...shaped.map(encode), ...random].filter((bytes) => {
    const { origin, seq } = entryKey(Event, bytes);
    if (!origin) return true; // not an event of any origin: sent as is
    const key = `${origin}\u0000${seq}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A stored line's origin and seq, if it has them where an event's line does. */
function lineKey(bytes: Buffer): { origin: string; seq: number } {
  const m = /"origin":"([^"]*)","seq":(\d+)/.exec(bytes.toString('utf8'));
  return m ? { origin: m[1], seq: Number(m[2]) } : { origin: '', seq: 0 };
}

function entryKey(Event: protobuf.Type, bytes: Buffer): { origin: string; seq: number } {
  try {
    const e = Event.toObject(Event.decode(bytes), { longs: Number }) as { origin?: string; seq?: number };
    return { origin: e.origin ?? '', seq: e.seq ?? 0 };
  } catch {
    return { origin: '', seq: 0 };
  }
}

export interface PeerLogOptions {
  /** End each stream after its backlog, so pullers pull again and again (else it stays open, quiet). */
  end?: boolean;
  /** Retirement messages sent in each stream's first batch (read at each pull: push more while it serves). */
  retired?: Buffer[];
  /** At this pull (counting every puller's from 1), the first batch holds this many copies of the log's first entry, and the rest follows as usual. */
  oversized?: { atPull: number; copies: number };
}

/**
 * Serves `events` (Event messages as bytes, or stored lines), as `machine`'s peer port (mutual TLS), to every puller that carries the secret:
 * what its vector does not cover, then a quiet live stream, or the stream's end.
 */
export async function servePeerLog(address: string, config: ClusterConfig, machine: string, root: protobuf.Root, events: (Buffer | StoredLine)[], { end = false, retired = [], oversized }: PeerLogOptions = {}): Promise<FakePeer> {
  const Event = root.lookupType('ftchat.Event');
  const PullRequest = root.lookupType('ftchat.PullRequest');
  const log: Entry[] = events.map((e) => (Buffer.isBuffer(e) ? { bytes: e, line: false, ...entryKey(Event, e) } : { bytes: e.line, line: true, ...lineKey(e.line) }));

  const stats = { pulls: 0, batches: 0, events: 0 };
  const server = new grpc.Server();
  const definition: grpc.ServiceDefinition = {
    Pull: {
      path: '/ftchat.Replication/Pull',
      requestStream: false,
      responseStream: true,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => PullRequest.toObject(PullRequest.decode(b), { longs: Number, objects: true }),
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    },
  };
  server.addService(definition, {
    Pull: (call: grpc.ServerWritableStream<{ vector?: { seqs?: Record<string, number> } }, Buffer>) => {
      if (String(call.metadata.get(SECRET_HEADER)[0] ?? '') !== config.secret) {
        call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: 'no secret' });
        return;
      }
      stats.pulls++;
      if (oversized?.atPull === stats.pulls) call.write(encode(Array.from({ length: oversized.copies }, (): Field => [log[0].line ? 6 : 1, log[0].bytes])));
      const have = call.request.vector?.seqs ?? {};
      const todo = log.filter((e) => !e.origin || e.seq > (have[e.origin] ?? 0));
      // Batches of up to 50 entries of one form.
      for (let i = 0, n = 0; i < todo.length || i === 0; i += n) {
        n = 1;
        while (n < 50 && i + n < todo.length && todo[i + n].line === todo[i].line) n++;
        const part = todo.slice(i, i + n);
        const last = i + n >= todo.length;
        // EventBatch: events (1), backlog (2), live (3), sent_at_ms (4), retired (5), lines (6)
        const batch: Field[] = [...part.map((e): Field => [e.line ? 6 : 1, e.bytes]), [2, Math.max(0, todo.length - i - n)], [3, last ? 1 : 0], [4, Date.now()]];
        if (i === 0) batch.push(...retired.map((r): Field => [5, r]));
        call.write(encode(batch));
        stats.batches++;
        stats.events += part.length;
      }
      if (end) call.end(); // else quiet, live: the stream stays open until the puller goes
    },
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(address, machinePortCredentials(config, machine), (err) => (err ? reject(err) : resolve())));
  return {
    stats,
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}
