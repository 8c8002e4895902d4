/**
 * What a user lives through when the master dies (issue 22): a user connected only
 * to m1, in chat mode, types a line every 100 ms (fbc posts them one at a time, as
 * it does typed lines); m1's master is SIGKILLed. The figure is the longest gap
 * between two of their posts coming back (shown to them: the Post's answer or the
 * stream, whichever is first, as fbc shows them). Each kill is split into steps on
 * one wall clock: the servers' log lines, the new processes' /proc start times, and
 * the user's own client (its TLS handshake, its key challenge answered, its post
 * back). A kill after which no post came back within the deadline is a miss, kept
 * with the steps it reached and the tail of the machine's log.
 */
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { ClusterStatus } from '../lib/admin/status';
import { ChatFeed } from '../lib/client/chat-feed';
import { ChatConnection } from '../lib/client/connection';
import type { Identity } from '../lib/client/identity';
import type { ClusterConfig } from '../lib/common/config';
import { errorMessage } from '../lib/common/log';
import { serverProcesses } from '../lib/common/processes';
import { caCert } from '../lib/common/transport-security';
import { WAITING_AHEAD } from '../lib/server/worker';
import { testKeys, type LogLine, type TestCluster } from '../test/helpers/server';
import { waitFor } from '../test/helpers/wait';
import { atCount, census, waitForFull } from '../test/helpers/full-count';
import { median, nowMs } from './stats';
import { startedAtMs } from './proc-start';

export interface MasterKillOptions {
  kills: number;
  /** No post back this long after the kill: a miss ("no service within N s"). */
  deadlineMs: number;
  /** The user types a line this often. */
  typeEveryMs: number;
  progress: (line: string) => void;
}

export interface MasterKillSample {
  round: number;
  victimPid: number;
  /** The bench's wall clock at the kill. */
  killedAt: number;
  /** Longest gap between two posts shown to the user around the kill; null: none came back by the deadline. */
  gapMs: number | null;
  /** Milestones, ms after the kill (see STEPS). */
  at: Record<string, number>;
  /** For a miss: what the user's client said, and the machine's last log lines. */
  diagnosis?: string[];
}

export interface MasterKillResult {
  kills: number;
  misses: number;
  maxGapMs: number;
  medianGapMs: number;
  /** Each step's own duration (from the milestone before it), median and max over the kills that reached it. */
  steps: { label: string; medianMs: number; maxMs: number; medianAtMs: number }[];
  samples: MasterKillSample[];
}

export const GOAL_GAP_MS = 2_000;

type Found = (logs: LogLine[], c: ClientTrace, killedAt: number) => number | undefined;
const logged = (msg: string | string[], role?: string): Found => (logs) => {
  const hit = logs.find((l) => (Array.isArray(msg) ? msg.includes(l.msg) : l.msg === msg) && (role === undefined || l.role === role));
  return hit && Date.parse(String(hit.time));
};
/** The line `msg` of the worker that served first. */
const firstWorkers = (logs: LogLine[], msg: string): LogLine | undefined => {
  const pid = logs.find((l) => l.msg === 'worker serving')?.pid;
  return logs.find((l) => l.pid === pid && l.msg === msg);
};
const REVIVING = ['won the election; starting a new primary', "the primary stayed dead past the ring's grace; starting it"];
/** The pid of the primary that took charge after the kill. */
const newMaster = (logs: LogLine[]): unknown => logs.find((l) => l.msg === 'master in charge')?.pid;
const revivedPid = (logs: LogLine[]): number => Number(logs.find((l) => REVIVING.includes(l.msg))?.primaryPid ?? 0);
/** A step of the guardians' revival: on the path only if the primary they started took charge (not a standby). */
const ifRevived = (find: Found): Found => (logs, c, killedAt) => (revivedPid(logs) === newMaster(logs) ? find(logs, c, killedAt) : undefined);
/** The line `msg` of the primary that took charge. */
const ofNewMaster = (msg: string): Found => (logs) => {
  const l = logs.find((x) => x.pid === newMaster(logs) && x.msg === msg);
  return l && Date.parse(String(l.time));
};
const VERDICT = 'primary is dead; starting an election';

/** The path from the kill to the user's next post, in order: [label, how it is found]. */
const STEPS: [string, Found][] = [
  ["a guardian's verdict: the master is dead", ifRevived(logged(VERDICT))],
  ['election won, new master spawned', ifRevived(logged(REVIVING))],
  ['new master process running', ifRevived((logs) => startedAtMs(revivedPid(logs)) || undefined)],
  ["the warm standby's link to the master broke", ofNewMaster('standby: the link to the running primary broke')],
  ['new master bound the admin port', ofNewMaster('bound the admin port')],
  ['new master in charge (modules loaded, fenced, locked)', logged('master in charge')],
  ['children forked', logged('primary forked its children')],
  ['first worker process running', (logs, _c, killedAt) => {
    const pid = logs.find((l) => l.msg === 'worker serving')?.pid;
    const at = pid ? startedAtMs(pid) : 0;
    return at >= killedAt ? at : undefined;
  }],
  ["first worker's modules loaded", (logs) => {
    const l = firstWorkers(logs, 'worker loading');
    return l && Date.parse(String(l.time));
  }],
  ['first worker recovered the write-ahead log (room lock)', (logs) => {
    const l = firstWorkers(logs, 'loaded room files');
    return l && Date.parse(String(l.time)) - Number(l.ms);
  }],
  ["first worker's turn to load (checkpoint lock)", (logs) => {
    const l = firstWorkers(logs, 'loaded room files');
    return l && Date.parse(String(l.time)) - Number(l.ms) + Number(l.lockWaitMs);
  }],
  ['first worker loaded its journal', (logs) => {
    const l = firstWorkers(logs, 'loaded room files');
    return l && Date.parse(String(l.time));
  }],
  ['first worker listening', logged('worker serving')],
  ["user's client: TLS handshake done", (_l, c, killedAt) => c.tlsAt.find((t) => t > killedAt)],
  ["user's post back", (logs, c) => {
    const l = logs.find((x) => x.msg === 'worker serving');
    return l && c.shownAt.find((t) => t > Date.parse(String(l.time)));
  }],
  // Off the post's path: a post presents the session it has; the chat stream greets again.
  ["user's client: the chat stream's key challenge answered", (_l, c, killedAt) => c.challengedAt.find((t) => t > killedAt)],
  // Off the path when a warm standby took charge: the guardians' verdict, and the primary their winner started (it stands by).
  ["a guardian's verdict, beside a standby's takeover", (logs, c, killedAt) => (revivedPid(logs) === newMaster(logs) ? undefined : logged(VERDICT)(logs, c, killedAt))],
];

/** Not found in the logs: masterKillRuns notes it in the kill's sample before the next kill. */
const WARM_AGAIN: [string, Found] = ['a warm standby again (off the path)', () => undefined];

/** What the user's client did, on the bench's wall clock. */
interface ClientTrace {
  tlsAt: number[];
  challengedAt: number[];
  shownAt: number[];
  said: { at: number; text: string }[];
}

/** A user in chat mode on m1 alone, typing a line every `typeEveryMs`; fbc's own connection and feed. */
class TypingUser implements ClientTrace {
  readonly tlsAt: number[] = [];
  readonly challengedAt: number[] = [];
  readonly shownAt: number[] = [];
  readonly said: { at: number; text: string }[] = [];
  private readonly conn: ChatConnection;
  private readonly feed: ChatFeed;
  private readonly typed: string[] = [];
  private typer: NodeJS.Timeout | undefined;
  private posting: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly user: string, address: string, config: ClusterConfig, private readonly typeEveryMs: number) {
    this.conn = new ChatConnection(this.tracedIdentity(), [address], this.tracedCredentials(config));
    const note = (text: string): void => {
      this.said.push({ at: nowMs(), text });
    };
    this.feed = new ChatFeed(this.conn, {
      line: (text) => (text.includes(`${user}: `) ? this.shownAt.push(nowMs()) : undefined),
      note,
      error: note,
    });
  }

  async start(): Promise<void> {
    await this.feed.start();
    let n = 0;
    this.typer = setInterval(() => {
      this.typed.push(`line ${n++}`);
      if (this.typed.length === 1) this.posting = this.postTyped();
    }, this.typeEveryMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.typer);
    await this.posting;
    await this.feed.stop().catch(() => undefined);
    this.conn.close();
  }

  /** Posts what was typed, one line at a time, as fbc does; a line whose post fails is lost, as in fbc (which prints the error). */
  private async postTyped(): Promise<void> {
    while (this.typed.length > 0 && !this.stopped) {
      const text = this.typed[0];
      await this.feed.post(text).catch((err: unknown) => this.said.push({ at: nowMs(), text: `error: ${errorMessage(err)}` }));
      this.typed.shift();
    }
  }

  /** The user's key; its Connect request is made when the server's challenge has come back. */
  private tracedIdentity(): Identity {
    const id = testKeys.identity(this.user);
    const traced = Object.create(id) as Identity;
    traced.connectRequest = (nonce) => {
      this.challengedAt.push(nowMs());
      return id.connectRequest(nonce);
    };
    return traced;
  }

  /** The cluster CA's credentials, noting when each TLS handshake checks the server's certificate. */
  private tracedCredentials(config: ClusterConfig): grpc.ChannelCredentials {
    if (!config.tls) return grpc.credentials.createInsecure();
    return grpc.credentials.createSsl(caCert(config), null, null, {
      checkServerIdentity: (host, cert) => {
        this.tlsAt.push(nowMs());
        return tls.checkServerIdentity(host, cert);
      },
    });
  }
}

/**
 * With a config that keeps a standby: waits until m1 has one whose workers, forked ahead,
 * have loaded and wait (the tree back at full strength, as the full count is), and says
 * when that was; null without one.
 */
async function warmStandby(cluster: TestCluster, config: ClusterConfig, s: ClusterStatus): Promise<number | null> {
  if (!config.standby) return null;
  const masterPid = s.processes.find((p) => p.machine === 'm1' && p.role === 'master')!.pid;
  return waitFor('a warm standby on m1', () => {
    const spares = new Set(serverProcesses(config.file, 'm1', masterPid).filter((p) => p.role === 'standby' && p.slot !== undefined).map((p) => p.pid));
    const ready = cluster.logs.filter((l) => l.machine === 'm1' && l.msg === WAITING_AHEAD && spares.has(Number(l.pid)));
    return ready.length >= config.workers ? Math.max(...ready.map((l) => Date.parse(String(l.time)))) : undefined;
  }, 120_000, 100);
}

/** `o.kills` SIGKILLs of m1's master, one at a time, each with the tree back at full count before it. */
export async function masterKillRuns(cluster: TestCluster, config: ClusterConfig, o: MasterKillOptions): Promise<MasterKillResult> {
  const full = await atFullCount(config, null, 120_000);
  const expected = census(full);
  const user = new TypingUser('gap_user', cluster.address('m1'), config, o.typeEveryMs);
  await user.start();
  const samples: MasterKillSample[] = [];
  try {
    for (let round = 0; round < o.kills; round++) {
      const before = await atFullCount(config, expected, 120_000);
      const shown = user.shownAt.length;
      await waitFor('the user seeing their posts again', () => user.shownAt.length >= shown + 5, 60_000, 20);
      const warmAt = await warmStandby(cluster, config, before);
      const last = samples.at(-1);
      if (last && warmAt !== null) last.at['a warm standby again (off the path)'] = Math.round(warmAt - last.killedAt);
      const sample = await killOnce(cluster, before, user, round, o);
      samples.push(sample);
      o.progress(`master kill #${round + 1} (pid ${sample.victimPid}): the user's longest gap ${sample.gapMs === null ? `none: no post back within ${o.deadlineMs / 1000} s` : `${sample.gapMs} ms`}`);
      for (const line of sample.diagnosis ?? []) o.progress(`  ${line}`);
    }
  } finally {
    await user.stop();
  }
  return summarize(samples);
}

async function killOnce(cluster: TestCluster, before: ClusterStatus, user: TypingUser, round: number, o: MasterKillOptions): Promise<MasterKillSample> {
  const victimPid = before.processes.find((p) => p.machine === 'm1' && p.role === 'master')!.pid;
  const since = cluster.logs.length;
  const killedAt = nowMs();
  process.kill(victimPid, 'SIGKILL');
  // Back: a post shown after a worker of the new tree listens (one in flight at the kill may
  // still be answered by a dying worker).
  const serving = (): number | undefined => {
    const l = cluster.logs.slice(since).find((x) => x.machine === 'm1' && x.msg === 'worker serving');
    return l && Date.parse(String(l.time));
  };
  const back = await waitFor('a post back from the new tree', () => {
    const from = serving();
    return from === undefined ? undefined : user.shownAt.find((t) => t > from);
  }, o.deadlineMs, 20).catch(() => null);
  // The posts typed meanwhile come back in a burst; a second more shows the gaps after it.
  if (back !== null) await waitFor('a second of posts after the first back', () => nowMs() > back + 1_000, 5_000, 50);
  const logs = cluster.logs.slice(since).filter((l) => l.machine === 'm1');
  const at: Record<string, number> = {};
  for (const [label, find] of STEPS) {
    const t = find(logs, user, killedAt);
    if (t !== undefined && Number.isFinite(t)) at[label] = Math.round(t - killedAt);
  }
  if (back === null) {
    const said = user.said.filter((s) => s.at > killedAt).slice(-5).map((s) => `client at ${Math.round(s.at - killedAt)} ms: ${s.text}`);
    const tail = logs.slice(-15).map((l) => `${Math.round(Date.parse(String(l.time)) - killedAt)} ms ${l.role} ${l.pid}: ${l.msg} ${JSON.stringify(extra(l))}`);
    return { round, victimPid, killedAt, gapMs: null, at, diagnosis: [`steps reached: ${JSON.stringify(at)}`, ...said, ...tail] };
  }
  const shown = user.shownAt;
  let from = shown.findIndex((t) => t > killedAt) - 1;
  if (from < 0) from = 0; // (the runs wait for posts before each kill: there is one)
  let gap = 0;
  for (let i = from + 1; i < shown.length && shown[i] <= back + 1_000; i++) gap = Math.max(gap, shown[i] - shown[i - 1]);
  return { round, victimPid, killedAt, gapMs: Math.round(gap), at };
}

function extra(l: LogLine): Record<string, unknown> {
  const { level: _l, machine: _m, role: _r, pid: _p, msg: _s, time: _t, ...rest } = l;
  return rest;
}

function atFullCount(config: ClusterConfig, expected: Record<string, number> | null, timeoutMs: number): Promise<ClusterStatus> {
  return waitForFull(config, (s) => atCount(s, expected), timeoutMs, 100);
}

function summarize(samples: MasterKillSample[]): MasterKillResult {
  const gaps = samples.map((s) => s.gapMs ?? Infinity);
  const steps = [...STEPS, WARM_AGAIN].map(([label], i) => {
    const own: number[] = [];
    const ats: number[] = [];
    for (const s of samples) {
      if (!(label in s.at)) continue;
      ats.push(s.at[label]);
      const prev = STEPS.slice(0, i).reverse().find(([l]) => l in s.at);
      own.push(s.at[label] - (prev ? s.at[prev[0]] : 0));
    }
    return { label, medianMs: median(own), maxMs: own.length ? Math.max(...own) : NaN, medianAtMs: median(ats) };
  });
  return {
    kills: samples.length,
    misses: samples.filter((s) => s.gapMs === null).length,
    maxGapMs: Math.max(...gaps),
    medianGapMs: median(gaps),
    steps,
    samples,
  };
}
