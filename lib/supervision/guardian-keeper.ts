/**
 * A primary keeps its machine's guardians alive. When a slot gets a new guardian is
 * GuardianSlots' call (lib/control/guardian-slots.ts); this shell performs it through
 * the beat files (primary-beats.ts), the guardians' Watch streams (guardian-streams.ts)
 * and the guardians it spawns (guardian-children.ts).
 */
import { performance } from 'node:perf_hooks';
import type * as grpc from '@grpc/grpc-js';
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import type { Beat, Beat__Output } from '../gen/ftchat/Beat';
import { GuardianSlots, guardianSlotsOptions, type SlotAction, type SlotInput, type SlotView } from '../control/guardian-slots';
import { timingPolicy } from '../control/timing-policy';
import { machineDirOf } from '../storage/data-dir';
import type { RestartLedger } from '../storage/restart-ledger';
import { GuardianChildren } from './guardian-children';
import { GuardianStreams, STOPPING } from './guardian-streams';
import { PrimaryBeats } from './primary-beats';
import { diesWithin } from './primary-record';

export interface GuardianKeeperOptions {
  config: ClusterConfig;
  machine: string;
  term: number;
  log: Logger;
  /** argv to run `fbs` again (node + script), so guardians run the same build as us. */
  fbsCommand: string[];
  /** Each slot's restarts across primaries (what status shows). */
  restarts: RestartLedger;
}

export interface GuardianKeeper {
  /** The Admin.Watch handler: each guardian says who it is here, and its stream breaking says it died. */
  watch: grpc.handleBidiStreamingCall<Beat__Output, Beat>;
  view(): SlotView[];
  /** Stops keeping them and terminates the guardians we spawned. */
  stop(): Promise<void>;
}

export function keepGuardians({ config, machine, term, log, fbsCommand, restarts }: GuardianKeeperOptions): GuardianKeeper {
  const policy = timingPolicy(config.timing);
  const slots = new GuardianSlots(guardianSlotsOptions(config.guardians, policy), performance.now());
  const children = new GuardianChildren({ config, machine, fbsCommand, restarts, log });
  const streams = new GuardianStreams(config, machine, log);
  const beats = new PrimaryBeats(machineDirOf(config.dataDir, machine), config.guardians, log);
  const answer: Beat = { from: `${machine}.primary`, pid: process.pid, term };
  const step = (input: SlotInput): void => slots.step(input, performance.now()).forEach(act);
  const act = (a: SlotAction): void => {
    if ('spawn' in a) return step({ kind: 'spawned', slot: a.spawn.slot, pid: children.spawn(a.spawn) });
    const { slot, pid, withinMs } = a.checkExit;
    void diesWithin(pid, withinMs).then((dead) => dead && step({ kind: 'exited', slot, pid }));
  };
  const timer = setInterval(() => {
    for (const slot of beats.beat()) step({ kind: 'beaten', slot });
    step({ kind: 'tick' });
  }, policy.heartbeatMs);
  timer.unref();
  return {
    watch: (call) =>
      streams.serve(call, {
        hello: (g) => {
          step({ kind: 'hello', ...g });
          return slots.stopping ? STOPPING : answer;
        },
        broken: (g) => g && step({ kind: 'streamBroken', ...g }),
      }),
    view: () => slots.view(performance.now()).map((g) => ({ ...g, restarts: restarts.count(`guardian.${g.slot}`) })),
    async stop() {
      step({ kind: 'stopping' });
      clearInterval(timer);
      streams.stopAll(); // guardians from before us are not our children: they exit when told
      await children.stop(policy.guardianStopGraceMs);
    },
  };
}
