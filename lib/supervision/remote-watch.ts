/**
 * The master's watch over the other machines' children: every GUARDIAN_BEAT_MS it
 * polls each supervisor's Status (which also tells the supervisor it is watched),
 * and asks that supervisor to revive whatever RemoteChildWatch judges lost. A
 * machine that does not answer is skipped: its guardians revive its supervisor.
 */
import { performance } from 'node:perf_hooks';
import { adminAddress, type ClusterConfig } from '../common/config';
import { errorMessage, type Logger } from '../common/log';
import { RemoteChildWatch, type ReviveAsk } from '../cluster/remote-children';
import { childSpecs, notAnsweringAfterMs } from '../server/primary';
import { AdminPeer } from './admin-client';
import { GUARDIAN_BEAT_MS } from './guardian-keeper';

/** How the master names itself in Status and Revive calls. */
export function masterId(config: ClusterConfig): string {
  return `${config.master}.master`;
}

export interface RemoteWatchOptions {
  config: ClusterConfig;
  machine: string;
  log: Logger;
}

export function watchRemoteChildren({ config, machine, log }: RemoteWatchOptions): { stop(): void } {
  const from = masterId(config);
  const peers = new Map(
    Object.keys(config.machines)
      .filter((m) => m !== machine)
      .map((m) => [m, new AdminPeer(adminAddress(config, m), config.secret)] as const),
  );
  const judge = new RemoteChildWatch({
    expected: childSpecs(config).map(({ role, slot }) => ({ role, slot })),
    hungAfterMs: notAnsweringAfterMs(config.timing.deadAfterMs),
    missingAfterMs: config.timing.deadAfterMs,
    reportFreshMs: 2 * GUARDIAN_BEAT_MS,
    askAgainAfterMs: 5 * GUARDIAN_BEAT_MS,
  });
  const polling = new Set<string>();
  const answers = new Map<string, boolean>(); // last poll answered, so each change is logged once

  const answered = (m: string, yes: boolean, err?: unknown): void => {
    const before = answers.get(m);
    answers.set(m, yes);
    if (yes && before === false) log.info(`${m}'s supervisor answers again; watching its children`, { target: m });
    if (!yes && before !== false) log.warn(`${m}'s supervisor does not answer; not judging its children`, { target: m, error: errorMessage(err) });
  };
  const ask = (a: ReviveAsk): void => {
    const what = `asked ${a.machine}'s supervisor to revive ${a.role} ${a.slot}`;
    const fields = { target: a.machine, childRole: a.role, slot: a.slot, childPid: a.pid, reason: a.reason, forMs: Math.round(a.forMs) };
    peers
      .get(a.machine)!
      .revive({ role: a.role, slot: a.slot, pid: a.pid, from }, GUARDIAN_BEAT_MS)
      .then(
        (res) => log.warn(`${what}: ${res.action}`, { ...fields, answer: res.action }),
        (err) => log.warn(`${what}: no answer`, { ...fields, error: errorMessage(err) }),
      );
  };
  const poll = async (m: string, peer: AdminPeer): Promise<void> => {
    try {
      const res = await peer.status(GUARDIAN_BEAT_MS, from);
      const children = res.processes.map((p) => ({ role: p.role, slot: Number(p.slot), pid: p.pid, heartbeatAgeMs: Number(p.heartbeat_age_ms) }));
      judge.report(m, children, performance.now());
      answered(m, true);
    } catch (err) {
      judge.unanswered(m);
      answered(m, false, err);
    }
    for (const a of judge.due(performance.now())) ask(a);
  };
  const timer = setInterval(() => {
    for (const [m, peer] of peers) {
      if (polling.has(m)) continue; // one call in flight per machine, however slow it answers
      polling.add(m);
      void poll(m, peer).finally(() => polling.delete(m));
    }
  }, GUARDIAN_BEAT_MS);

  return {
    stop() {
      clearInterval(timer);
      for (const peer of peers.values()) peer.close();
    },
  };
}
