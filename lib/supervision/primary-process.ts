/**
 * A machine's primary process in its cluster role: the master on the master machine, a
 * supervisor elsewhere. When it takes charge, stands by, fences a stale primary or steps
 * down is the Takeover's call (lib/control/takeover.ts); this shell performs its actions
 * and feeds their outcomes back: the recorded primary (recorded-primary.ts), the admin
 * port (primary-admin.ts), the lock and record (primary-charge.ts), the machine in charge
 * (primary-in-charge.ts).
 */
import { performance } from 'node:perf_hooks';
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import { revivalTermOf, Takeover, type RecordView, type TakeoverAction } from '../control/takeover';
import { timingPolicy } from '../control/timing-policy';
import { TakeoverIo, type Outcome } from './takeover-io';

export interface PrimaryProcessOptions {
  config: ClusterConfig;
  machine: string;
  log: Logger;
  fbsCommand: string[];
}

export interface RunningPrimary {
  stop(): Promise<void>;
}

/**
 * `fbs start`: become the machine's primary, or, while a healthy one runs (a guardian
 * revived it, and now systemd restarts us too), stand by and take over when it dies.
 * Resolves null if the machine was stopped cleanly meanwhile. Feeds the Takeover each
 * input and carries out its actions, each outcome fed in turn; once in charge, it runs
 * the machine (primary-in-charge.ts) and the Takeover only hears of the record.
 */
export function startOrStandBy(opts: PrimaryProcessOptions): Promise<RunningPrimary | null> {
  return new Promise((resolve, reject) => {
    const policy = timingPolicy(opts.config.timing);
    const takeover = new Takeover({ pid: process.pid, revivalTerm: revivalTermOf(process.env.FBS_TERM), timing: policy });
    const io = new TakeoverIo(opts, (detail) => step({ kind: 'lockCompromised', detail }));
    const ticker = setInterval(() => [io.recorded.look(), { kind: 'tick' } as const].forEach(step), policy.fenceLookEveryMs);
    const fail = (err: unknown): void => {
      clearInterval(ticker);
      reject(err);
    };
    const step = (input: Outcome): void => {
      try {
        for (const a of input ? takeover.step(input, performance.now()) : []) Promise.resolve(act(a)).then(step, fail);
      } catch (err) {
        fail(err);
      }
    };
    const act = async (a: TakeoverAction): Promise<Outcome> => {
      if (!('inCharge' in a) && !('stopped' in a)) return io.perform(a);
      clearInterval(ticker);
      if ('stopped' in a) return resolve(await io.stopped()); // a revival that lost the race with a clean stop
      const recordChanged = (record: RecordView | null): void => step({ kind: 'recordChanged', record });
      const running = await io.inCharge(a.inCharge, recordChanged);
      resolve({ stop: () => (step({ kind: 'stopping' }), running.stop()) });
    };
    step({ kind: 'start', ...io.recorded.found() });
  });
}
