/**
 * The master's watch over the other machines' children: every remotePollMs it
 * polls each supervisor on a WatchChildren stream (which also tells the supervisor
 * it is watched), and asks that supervisor to revive whatever RemoteChildWatch judges lost. A
 * machine that does not answer is skipped: its guardians revive its supervisor.
 */
import { performance } from 'node:perf_hooks';
import { adminAddress, type ClusterConfig } from '../common/config';
import { errorMessage, type Logger } from '../common/log';
import { RemoteChildWatch, type ReviveAsk } from '../control/remote-children';
import { childSpecs } from '../control/child-supervisor';
import { timingPolicy } from '../control/timing-policy';
import type { StatusResponse__Output } from '../gen/ftchat/StatusResponse';
import { AdminPeer } from './admin-client';

type ChildrenStream = ReturnType<AdminPeer['watchChildren']>;
/** The master's link to one supervisor. */
interface Link {
  peer: AdminPeer;
  stream: ChildrenStream | null;
  /** A poll was sent and not answered yet. */
  awaiting: boolean;
  /** Whether its last poll was answered (undefined before the first), so each change is logged once. */
  answering?: boolean;
}

export interface RemoteWatchOptions {
  config: ClusterConfig;
  machine: string;
  log: Logger;
}

export function watchRemoteChildren(opts: RemoteWatchOptions): { stop(): void } {
  const watch = new RemoteWatch(opts);
  const timer = setInterval(() => watch.poll(), watch.pollMs);
  return {
    stop() {
      clearInterval(timer);
      watch.close();
    },
  };
}

/** The I/O of RemoteChildWatch (lib/control/remote-children.ts), which judges what is lost. */
class RemoteWatch {
  private readonly links: Map<string, Link>;
  private readonly judge: RemoteChildWatch;
  private readonly log: Logger;
  readonly pollMs: number;

  constructor({ config, machine, log }: RemoteWatchOptions) {
    this.log = log;
    const policy = timingPolicy(config.timing);
    this.pollMs = policy.remotePollMs;
    this.links = new Map<string, Link>(
      Object.keys(config.machines)
        .filter((m) => m !== machine)
        .map((m) => [m, { peer: new AdminPeer(adminAddress(config, m), config), stream: null, awaiting: false }]),
    );
    this.judge = new RemoteChildWatch({
      expected: childSpecs(config.workers).map(({ role, slot }) => ({ role, slot })),
      hungAfterMs: policy.remoteHungAfterMs,
      missingAfterMs: policy.remoteMissingAfterMs,
      reportFreshMs: policy.remoteReportFreshMs,
      askAgainAfterMs: policy.remoteAskAgainMs,
    });
  }

  /** One poll a beat on each supervisor's stream; a poll not answered by the next beat means it does not answer. */
  poll(): void {
    for (const [m, link] of this.links) {
      if (link.awaiting) this.lost(m, new Error(`no answer within ${this.pollMs} ms`));
      link.stream ??= this.open(m, link);
      link.awaiting = true;
      link.stream.write({});
    }
    for (const a of this.judge.step({ kind: 'tick' }, performance.now())) this.ask(a);
  }

  close(): void {
    for (const link of this.links.values()) {
      const stream = link.stream;
      link.stream = null; // our own cancel: not a supervisor that stopped answering
      stream?.cancel();
      link.peer.close();
    }
  }

  private open(m: string, link: Link): ChildrenStream {
    const stream = link.peer.watchChildren();
    const broken = (err: unknown): void => {
      if (link.stream !== stream) return;
      link.stream = null;
      link.awaiting = false;
      this.lost(m, err);
    };
    stream.on('data', (res: StatusResponse__Output) => {
      link.awaiting = false;
      const children = res.processes.map((p) => ({ role: p.role, slot: Number(p.slot), pid: p.pid, heartbeatAgeMs: Number(p.heartbeat_age_ms) }));
      this.judge.step({ kind: 'report', machine: m, children }, performance.now());
      this.answered(m, true);
    });
    stream.on('error', broken);
    stream.on('end', () => broken(new Error('stream ended')));
    return stream;
  }

  private lost(m: string, err: unknown): void {
    this.judge.step({ kind: 'unanswered', machine: m }, performance.now());
    this.answered(m, false, err);
  }

  private answered(m: string, yes: boolean, err?: unknown): void {
    const link = this.links.get(m)!;
    const before = link.answering;
    link.answering = yes;
    if (yes && before === false) this.log.info(`${m}'s supervisor answers again; watching its children`, { target: m });
    // One that never answered yet is starting (a cluster starts in any order): not news.
    if (!yes && before !== false) this.log[before === undefined ? 'debug' : 'warn'](`${m}'s supervisor does not answer; not judging its children`, { target: m, error: errorMessage(err) });
  }

  private ask(a: ReviveAsk): void {
    const what = `asked ${a.machine}'s supervisor to revive ${a.role} ${a.slot}`;
    const fields = { target: a.machine, childRole: a.role, slot: a.slot, childPid: a.pid, reason: a.reason, forMs: Math.round(a.forMs) };
    this.links
      .get(a.machine)!
      .peer.revive({ role: a.role, slot: a.slot, pid: a.pid }, this.pollMs)
      .then(
        (res) => this.log[res.action.startsWith('none') ? 'info' : 'warn'](`${what}: ${res.action}`, { ...fields, answer: res.action }),
        (err) => this.log.warn(`${what}: no answer`, { ...fields, error: errorMessage(err) }),
      );
  }
}
