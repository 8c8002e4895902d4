/**
 * `npm run bench -- --only names --baseline DIR`: what settling names by a majority
 * costs (issue 18; docs/names.md), as an A/B against the build before it. DIR is a
 * built checkout of that build (`git worktree add DIR <commit> && cd DIR && npm ci`);
 * its own test helpers start its tree. Both trees are three machines of 2 workers on
 * this host, side by side, measured in alternating rounds (base, names, names, base,
 * ...), so the host's load falls on both alike. Each round, on m1, one at a time:
 * - a new name's handshake (Challenge, signed Connect: the room created; with names,
 *   settled by the three acceptors first), and the CPU all three machines spend on it;
 * - a returning user's handshake (the same users again; no acceptor is asked).
 * And, for this build alone: the bytes of a settled create's line and of its proof,
 * and the time to check a proof.
 */
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { handshake, Identity } from '../lib/client/identity';
import { loadConfig } from '../lib/common/config';
import { proofTrust } from '../lib/common/name-trust';
import { ftchatProto } from '../lib/common/proto';
import { userChannelCredentials } from '../lib/common/transport-security';
import { eventToLine } from '../lib/core/event';
import { proofError } from '../lib/core/name-proof';
import type { ChatClient } from '../lib/gen/ftchat/Chat';
import { RAISED_QUOTAS, startCluster, type ClusterOptions, type TestCluster } from '../test/helpers/server';
import { onCleanup } from './cleanup';
import { call } from './server';
import { cpuClock, cpuPerUnit, loadAverageText, nowMs, startRun, summarize, type RunHeader, type Summary } from './stats';

const MACHINES = ['m1', 'm2', 'm3'];
const ROUNDS = 4;
const USERS = 40;

type Mode = 'base' | 'names';

export interface NamesRound {
  mode: Mode;
  newNameMs: Summary;
  returningMs: Summary;
  /** CPU µs all three machines spent per new name (all their processes). */
  cpuUsPerNewName: number;
}

export interface NamesResult extends RunHeader {
  baseline: string;
  rounds: NamesRound[];
  /** names / base of the rounds' medians. */
  ratio: { newNameP50: number; returningP50: number; cpuPerNewName: number };
  createLineBytes: number;
  proofBytes: number;
  proofCheckUs: number;
}

interface Tree {
  cluster: TestCluster;
  client: ChatClient;
}

async function startTree(start: (o: ClusterOptions) => Promise<TestCluster>): Promise<Tree> {
  const cluster = await start({ machines: MACHINES, workers: 2, guardians: 1, quotas: RAISED_QUOTAS });
  onCleanup(() => void cluster.teardown());
  const address = cluster.address('m1');
  const client: ChatClient = new (ftchatProto().ftchat.Chat)(address, userChannelCredentials(loadConfig(cluster.configFile)), { 'grpc.use_local_subchannel_pool': 1 });
  return { cluster, client };
}

async function round(tree: Tree, mode: Mode, tag: string): Promise<NamesRound> {
  const via = (method: 'Challenge' | 'Connect', req: object): Promise<unknown> => call(tree.client, method, req as never);
  const ids = Array.from({ length: USERS }, (_, i) => Identity.generate(`n${tag}_${i}`));
  const timed = async (): Promise<number[]> => {
    const ms: number[] = [];
    for (const id of ids) {
      const t0 = nowMs();
      await handshake(via, id);
      ms.push(nowMs() - t0);
    }
    return ms;
  };
  const pids = Object.fromEntries(MACHINES.map((m) => [m, tree.cluster.pids(m)]));
  const meter = cpuClock(pids);
  const fresh = await timed();
  const cpu = cpuPerUnit(meter.stop(), USERS);
  const returning = await timed();
  return { mode, newNameMs: summarize(fresh), returningMs: summarize(returning), cpuUsPerNewName: Object.values(cpu).reduce((a, b) => a + b, 0) };
}

/** A settled create of this build: its line's bytes, its proof's, and the µs to check the proof. */
async function proofCost(tree: Tree): Promise<Pick<NamesResult, 'createLineBytes' | 'proofBytes' | 'proofCheckUs'>> {
  const dump = await tree.cluster.dump('m1');
  const create = dump.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.kind === 'create' && e.proof);
  if (!create) throw new Error('no settled create to measure');
  const trust = proofTrust(loadConfig(tree.cluster.configFile));
  const n = 200;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) if (proofError(create.proof, { name: create.room, key: create.text }, trust) !== null) throw new Error('the proof does not verify');
  return { createLineBytes: Buffer.byteLength(eventToLine(create)), proofBytes: create.proof.length, proofCheckUs: Math.round(((performance.now() - t0) * 1000) / n) };
}

export async function benchNames(baselineDir: string | undefined): Promise<NamesResult> {
  if (!baselineDir) throw new Error('--baseline DIR is required: a built checkout of the build before names were settled by a majority');
  const dir = resolve(baselineDir);
  // The other build's own launcher starts its tree (its bin/fbs, its dist).
  const mod = require(join(dir, 'dist', 'test', 'helpers', 'server.js')) as { startCluster: (o: ClusterOptions) => Promise<TestCluster> };
  const header = startRun(2);
  const trees: Record<Mode, Tree> = { base: await startTree(mod.startCluster), names: await startTree(startCluster) };
  const rounds: NamesRound[] = [];
  try {
    for (let r = 1; r <= ROUNDS; r++) {
      for (const mode of (r % 2 ? ['base', 'names'] : ['names', 'base']) as Mode[]) {
        console.error(`bench: names round ${r}/${ROUNDS}, ${mode}`);
        rounds.push(await round(trees[mode], mode, `${mode}${r}${Date.now().toString(36).slice(-4)}`));
      }
    }
    const cost = await proofCost(trees.names);
    const med = (mode: Mode, f: (x: NamesRound) => number): number => summarize(rounds.filter((x) => x.mode === mode).map(f)).p50;
    const ratio = (f: (x: NamesRound) => number): number => Math.round((med('names', f) / med('base', f)) * 100) / 100;
    return {
      ...header(),
      baseline: dir,
      rounds,
      ratio: { newNameP50: ratio((x) => x.newNameMs.p50), returningP50: ratio((x) => x.returningMs.p50), cpuPerNewName: ratio((x) => x.cpuUsPerNewName) },
      ...cost,
    };
  } finally {
    for (const t of Object.values(trees)) t.client.close();
    await Promise.all(Object.values(trees).map((t) => t.cluster.teardown()));
  }
}

export function printNamesReport(r: NamesResult): void {
  const ms = (s: Summary): string => `${s.p50.toFixed(1)} / ${s.p99.toFixed(1)}`;
  console.log(
    [
      '',
      `ftchat names bench: names settled by a majority (this build) against the build before (${r.baseline}); 3 machines of 2 workers each on this host, ${USERS} users a round on m1, ${ROUNDS} rounds each, alternating; ${loadAverageText(r)}`,
      '',
      '| round | build | new name handshake p50 / p99 ms | returning handshake p50 / p99 ms | CPU per new name, 3 machines (µs) |',
      '|---|---|---|---|---|',
      ...r.rounds.map((x, i) => `| ${Math.floor(i / 2) + 1} | ${x.mode} | ${ms(x.newNameMs)} | ${ms(x.returningMs)} | ${x.cpuUsPerNewName} |`),
      '',
      `names / base (medians of the rounds): new name p50 ${r.ratio.newNameP50}, returning p50 ${r.ratio.returningP50}, CPU per new name ${r.ratio.cpuPerNewName}`,
      `a settled create: ${r.createLineBytes} bytes on disk and on the wire (its proof ${r.proofBytes}); checking its proof ${r.proofCheckUs} µs`,
    ].join('\n'),
  );
}
