/**
 * Property-based fuzz of a real 3-machine cluster (issue 11). For `durationMs` it
 * drives every RPC of every service in protos/ftchat.proto (Chat on each machine's
 * client port, with and without a session of one of its users; Admin on each
 * primary's and guardian's port and Replication on each peer port, each with and
 * without the cluster secret) with requests fast-check
 * draws from a seed (wire-arbitraries.ts), writes garbage bytes to every port, and
 * has the replicators pull from a faulty peer (fake-peer.ts). Then it checks:
 * - no server process died (the same pids as before);
 * - every machine converged to a byte-identical `fbs dump`;
 * - no worker or replicator logged an event loop delay over 1 s;
 * - no handler failed (UNKNOWN, or INTERNAL other than grpc-js's own "Error
 *   deserializing request"), and no server wrote a line that is not structured JSON.
 * The requests run 6 at a time, so one seed replays the same requests, not the same
 * interleaving.
 */
import fc from 'fast-check';
import * as grpc from '@grpc/grpc-js';
import { connect } from 'node:net';
import type * as protobuf from 'protobufjs';
import { loadConfig } from '../../lib/common/config';
import { secretMetadata } from '../../lib/common/secret';
import { sessionMetadata } from '../../lib/client/identity';
import { call, converged, startCluster, type TestCluster } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { fuzzPeerLog, servePeerLog } from './fake-peer';
import { protoRoot, requestBytesArb, type WirePools } from './wire-arbitraries';
import { credentialsFor } from '../helpers/trust';

export interface FuzzOptions {
  durationMs: number;
  seed: number;
  /** Progress lines (e.g. console.log). */
  say?: (line: string) => void;
}

export interface FuzzReport {
  seed: number;
  durationMs: number;
  /** Requests sent, by kind ("Chat.Post", "Admin.Elect+secret", "garbage", ...), with the status codes they got. */
  sent: Record<string, { n: number; codes: Record<string, number> }>;
  fakePeer: { pulls: number; batches: number; events: number };
  /** Longest event loop delay a worker or replicator reported during the run, in ms (reports start at 100). */
  maxLoopDelayMs: number;
  violations: string[];
}

const MACHINES = ['m1', 'm2', 'm3'];
const CONCURRENCY = 6;
const CALL_MS = 5_000;
const STREAM_MS = 300;
const LOOP_DELAY_LIMIT_MS = 1_000;

interface Target {
  service: string;
  address: string;
}

interface Action {
  target: Target;
  method: protobuf.Method;
  /** With the cluster secret (Admin, Replication) or the session of users[as] (Chat). */
  secret: boolean;
  as: number;
  messages: Buffer[];
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const say = opts.say ?? (() => undefined);
  // m4 is in the config but never started: its peer port is the faulty peer's.
  // No warm standby: the run counts every process before and after (a standby's come and go).
  const cluster = await startCluster({ machines: [...MACHINES, 'm4'], startMachines: false, standby: false });
  try {
    for (const m of MACHINES) await cluster.start(m);
    return await fuzzCluster(cluster, opts, say);
  } finally {
    await cluster.teardown();
  }
}

async function fuzzCluster(cluster: TestCluster, opts: FuzzOptions, say: (line: string) => void): Promise<FuzzReport> {
  const config = loadConfig(cluster.configFile);
  const root = protoRoot();
  // Every process up: primary, workers, replicator and guardians of each machine.
  const perMachine = 1 + config.workers + 1 + config.guardians;
  await waitFor('every process of the cluster up', () => cluster.pids().length === perMachine * MACHINES.length || null, 60_000);
  const pidsBefore = cluster.pids().sort((a, b) => a - b);

  // Users and origins that exist, so requests reach past the first checks.
  const users = ['fuzz0', 'fuzz1', 'fuzz2', 'fuzz3'];
  const origins = new Set<string>(MACHINES.map((m) => `${m}.replicator`));
  const sessions: grpc.Metadata[] = [];
  for (const [i, u] of users.entries()) {
    const res = await call(cluster.client(MACHINES[i % MACHINES.length]), 'Connect', { user: u });
    origins.add(res.worker);
    sessions.push(sessionMetadata(res.token)); // a session works on every machine
  }
  const pools: WirePools = { users, ids: ['c1', 'retry-1', 'a'.repeat(64)], origins: [...origins] };
  const peer = await servePeerLog(`${config.machines.m4.host}:${config.machines.m4.peerPort}`, config, 'm4', root, fuzzPeerLog(root, pools, opts.seed));

  const targets: Target[] = MACHINES.flatMap((m) => {
    const { host, port, adminPort, peerPort } = config.machines[m];
    return [
      { service: 'Chat', address: `${host}:${port}` },
      ...Array.from({ length: config.guardians + 1 }, (_, g) => ({ service: 'Admin', address: `${host}:${adminPort + g}` })),
      { service: 'Replication', address: `${host}:${peerPort}` },
    ];
  });
  const actionArb = fc.oneof(
    ...targets.flatMap((target) =>
      Object.values(root.lookupService(`ftchat.${target.service}`).methods).map((method) =>
        fc.record({
          target: fc.constant(target),
          method: fc.constant(method),
          secret: fc.boolean(),
          as: fc.nat({ max: users.length - 1 }),
          messages: fc.array(requestBytesArb(method.resolvedRequestType!, pools), { minLength: 1, maxLength: method.requestStream ? 3 : 1 }),
        }),
      ),
    ),
  );
  const garbageArb = fc.record({
    address: fc.constantFrom(...targets.map((t) => t.address), `${config.machines.m1.host}:${config.machines.m4.peerPort}`),
    preface: fc.boolean(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 4096 }),
  });
  const stepArb = fc.oneof({ arbitrary: actionArb, weight: 19 }, { arbitrary: garbageArb, weight: 1 });

  const report: FuzzReport = { seed: opts.seed, durationMs: opts.durationMs, sent: {}, fakePeer: peer.stats, maxLoopDelayMs: 0, violations: [] };
  const tally = (kind: string, code: string): void => {
    const k = (report.sent[kind] ??= { n: 0, codes: {} });
    k.n++;
    k.codes[code] = (k.codes[code] ?? 0) + 1;
  };
  const clients = new Map<string, grpc.Client>();
  const client = (address: string): grpc.Client => {
    let c = clients.get(address);
    if (!c) clients.set(address, (c = new grpc.Client(address, credentialsFor(address))));
    return c;
  };

  const logsFrom = cluster.logs.length;
  const deadline = Date.now() + opts.durationMs;
  let chunk = 0;
  const nextSteps = () => fc.sample(stepArb, { seed: opts.seed + 1000 + chunk++, numRuns: 50 });
  let lastSay = Date.now();
  const loop = async (): Promise<void> => {
    while (Date.now() < deadline) {
      for (const step of nextSteps()) {
        if (Date.now() >= deadline) return;
        if ('method' in step) {
          const kind = `${step.target.service}.${step.method.name}${step.secret ? '+secret' : ''}`;
          const md = !step.secret ? new grpc.Metadata() : step.target.service === 'Chat' ? sessions[step.as].clone() : secretMetadata(config.secret);
          const { code, details } = await send(client(step.target.address), step, md);
          tally(kind, grpc.status[code] ?? String(code));
          if (code === grpc.status.UNKNOWN || (code === grpc.status.INTERNAL && !/^Error deserializing request/.test(details))) {
            report.violations.push(`${kind} at ${step.target.address} failed: ${grpc.status[code]} ${details} (request ${step.messages.map((m) => m.toString('hex').slice(0, 400)).join(' ')})`);
          }
        } else {
          await garbage(step.address, step.preface, Buffer.from(step.bytes));
          tally('garbage', 'sent');
        }
        if (Date.now() - lastSay > 10_000) {
          lastSay = Date.now();
          say(`fuzz: ${Object.values(report.sent).reduce((n, k) => n + k.n, 0)} requests, ${report.violations.length} violations`);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  for (const c of clients.values()) c.close();

  // Convergence first: the replicators may still be shipping what the run wrote.
  const dumps = await converged(cluster, MACHINES, 60_000).catch((err: Error) => {
    report.violations.push(`dumps did not converge: ${err.message}`);
    return '';
  });
  say(`fuzz: dumps ${dumps ? `identical (${dumps.split('\n').length - 1} events)` : 'differ'}`);
  await peer.close();
  const pidsAfter = cluster.pids().sort((a, b) => a - b);
  const gone = pidsBefore.filter((p) => !pidsAfter.includes(p));
  if (gone.length > 0) report.violations.push(`server processes died: ${gone.join(', ')} (now ${pidsAfter.join(', ')})`);
  for (const l of cluster.logs.slice(logsFrom)) {
    if (l.msg === 'event loop delayed') {
      const ms = Number(l.maxMs);
      report.maxLoopDelayMs = Math.max(report.maxLoopDelayMs, ms);
      if (ms > LOOP_DELAY_LIMIT_MS) report.violations.push(`${l.machine} ${l.role} ${l.pid}: event loop delayed ${ms} ms`);
    }
    if (l.level === 'raw' && l.msg.trim() !== '') report.violations.push(`${l.machine}: unstructured output: ${l.msg.slice(0, 200)}`);
    if (l.msg === 'request failed') report.violations.push(`${l.machine} ${l.role}: request failed: ${String(l.error)}`);
  }
  return report;
}

/** One call with the action's bytes: unary, server stream (read for a moment), or client/bidi stream. */
function send(client: grpc.Client, a: Action, md: grpc.Metadata): Promise<{ code: grpc.status; details: string }> {
  const path = `/ftchat.${a.target.service}/${a.method.name}`;
  const options = { deadline: Date.now() + CALL_MS };
  const id = (b: Buffer): Buffer => b;
  return new Promise((resolve) => {
    let settled = false;
    const done = (code: grpc.status, details: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ code, details });
    };
    let timer: NodeJS.Timeout | undefined;
    if (!a.method.requestStream && !a.method.responseStream) {
      client.makeUnaryRequest(path, id, id, a.messages[0], md, options, (err) => done(err ? err.code : grpc.status.OK, err?.details ?? ''));
      return;
    }
    let stream: grpc.ClientReadableStream<Buffer>;
    if (a.method.requestStream) {
      const duplex = client.makeBidiStreamRequest(path, id, id, md, options);
      for (const m of a.messages) duplex.write(m);
      duplex.end();
      stream = duplex;
    } else stream = client.makeServerStreamRequest(path, id, id, a.messages[0], md, options);
    stream.on('data', () => undefined);
    stream.on('error', (err: grpc.ServiceError) => done(err.code, err.details));
    stream.on('end', () => done(grpc.status.OK, ''));
    // A stream that stays open is fine (chat mode, a live pull): it counts as OK once left.
    timer = setTimeout(() => {
      stream.cancel();
      done(grpc.status.OK, 'open');
    }, STREAM_MS);
  });
}

/** Random bytes on a raw TCP connection, sometimes after the HTTP/2 preface; then close it. */
function garbage(address: string, preface: boolean, bytes: Buffer): Promise<void> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const end = (): void => {
      socket.destroy();
      resolve();
    };
    socket.on('error', end);
    socket.on('close', end);
    socket.on('data', () => undefined);
    socket.on('connect', () => {
      socket.write(Buffer.concat([preface ? Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n') : Buffer.alloc(0), bytes]));
      setTimeout(end, 200);
    });
  });
}
