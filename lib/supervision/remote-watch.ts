/**
 * The master's watch over the other machines' children: the I/O of PrimaryPolls
 * (lib/control/primary-polls.ts), which decides whom to poll, which primary does
 * not answer and which lost child to ask it to revive. A machine whose primary does
 * not answer is skipped: its guardians revive it. The log lines name that primary by
 * its role in `fbs status` (a supervisor), as its own log lines do.
 */
import { performance } from 'node:perf_hooks';
import type { ClusterConfig } from '../common/config';
import { errorMessage, type Logger } from '../common/log';
import { answerLevel, childSpecs } from '../control/child-supervisor';
import type { ReviveAsk } from '../control/remote-children';
import { PrimaryPolls, type PollAction, type PollInput } from '../control/primary-polls';
import { timingPolicy } from '../control/timing-policy';
import { RemotePrimaries } from './remote-primaries';

export function watchRemoteChildren({ config, machine, log }: { config: ClusterConfig; machine: string; log: Logger }): { stop(): void } {
  const policy = timingPolicy(config.timing);
  const machines = Object.keys(config.machines).filter((m) => m !== machine);
  const polls = new PrimaryPolls({
    machines,
    pollMs: policy.remotePollMs,
    expected: childSpecs(config.workers).map(({ role, slot }) => ({ role, slot })),
    hungAfterMs: policy.remoteHungAfterMs,
    missingAfterMs: policy.remoteMissingAfterMs,
    reportFreshMs: policy.remoteReportFreshMs,
    askAgainAfterMs: policy.remoteAskAgainMs,
  });
  const step = (input: PollInput): void => {
    for (const a of polls.step(input, performance.now())) act(a);
  };
  const streams = new RemotePrimaries(config, machines, step);
  const act = (a: PollAction): void => {
    if ('poll' in a) streams.poll(a.poll.machine);
    else if ('ask' in a) ask(a.ask);
    else if ('answersAgain' in a) log.info(`${a.answersAgain.machine}'s supervisor answers again; watching its children`, { target: a.answersAgain.machine });
    else log[a.unanswered.level](`${a.unanswered.machine}'s supervisor does not answer; not judging its children`, { target: a.unanswered.machine, error: a.unanswered.error });
  };
  const ask = (a: ReviveAsk): void => {
    const what = `asked ${a.machine}'s supervisor to revive ${a.role} ${a.slot}`;
    const fields = { target: a.machine, childRole: a.role, slot: a.slot, childPid: a.pid, reason: a.reason, forMs: Math.round(a.forMs) };
    streams.peers.get(a.machine)!.revive({ role: a.role, slot: a.slot, pid: a.pid }, policy.remotePollMs).then(
      (res) => log[answerLevel(res.action)](`${what}: ${res.action}`, { ...fields, answer: res.action }),
      (err) => log.warn(`${what}: no answer`, { ...fields, error: errorMessage(err) }),
    );
  };
  const timer = setInterval(() => step({ kind: 'tick' }), policy.remotePollMs);
  return {
    stop() {
      clearInterval(timer);
      streams.close();
    },
  };
}
