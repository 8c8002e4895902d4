/**
 * A primary's end of its guardians' Watch streams: each guardian's first message
 * says who it is (checked on this machine: a live guardian of that slot), and is
 * answered with the primary's beat (its term, or STOPPING); the stream breaking
 * says one side died.
 */
import * as grpc from '@grpc/grpc-js';
import { internalRequestError } from '../core/input-bounds';
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import type { Beat, Beat__Output } from '../gen/ftchat/Beat';
import { isGuardianOf } from './primary-record';

export function guardianId(machine: string, slot: number): string {
  return `${machine}.g${slot}`;
}

/**
 * Which guardian a Watch beat says it is: undefined for another sender (not one of
 * our slots), or why it is refused. The pid comes from the network: it counts only if
 * this machine runs it as that slot's guardian.
 */
function guardianOf(b: Beat__Output, config: ClusterConfig, machine: string): WatchingGuardian | string | undefined {
  const bad = internalRequestError('Watch', b);
  if (bad) return bad;
  const slot = Array.from({ length: config.guardians }, (_, i) => i).find((i) => guardianId(machine, i) === b.from);
  if (slot === undefined) return undefined;
  return isGuardianOf(b.pid, machine, slot) ? { slot, pid: b.pid } : `pid ${b.pid} is not ${b.from} on this machine`;
}

/** A guardian as its Watch stream names it, checked on this machine. */
export type WatchingGuardian = { slot: number; pid: number };

/** What a stream tells its primary: a guardian's hello, answered with the returned beat; `broken` once, when it ends (with the guardian, if it said hello). */
export interface GuardianStreamEvents {
  hello(g: WatchingGuardian): Beat;
  broken(g: WatchingGuardian | undefined): void;
}

/** One guardian's Watch stream. */
function serveGuardianStream(call: grpc.ServerDuplexStream<Beat__Output, Beat>, config: ClusterConfig, machine: string, log: Logger, on: GuardianStreamEvents): void {
  let guardian: WatchingGuardian | undefined;
  let ended = false;
  const done = (): void => {
    if (ended) return;
    ended = true;
    on.broken(guardian);
  };
  call.on('data', (b: Beat__Output) => {
    const g = guardianOf(b, config, machine);
    if (typeof g === 'string') {
      log.warn('refused a beat', { reason: g });
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: g });
      return;
    }
    if (!g) return;
    guardian = g;
    call.write(on.hello(g));
  });
  call.on('end', () => {
    done();
    call.end();
  });
  call.on('error', done);
  call.on('cancelled', done);
}

/** The primary's answer telling its guardians that the machine is stopping: they exit. */
export const STOPPING = { from: '', pid: 0, term: 0 };

/** The open Watch streams of a primary's guardians. */
export class GuardianStreams {
  private readonly open = new Set<grpc.ServerDuplexStream<Beat__Output, Beat>>();

  constructor(private readonly config: ClusterConfig, private readonly machine: string, private readonly log: Logger) {}

  /** Serves one guardian's stream (see serveGuardianStream). */
  serve(call: grpc.ServerDuplexStream<Beat__Output, Beat>, on: GuardianStreamEvents): void {
    this.open.add(call);
    serveGuardianStream(call, this.config, this.machine, this.log, {
      hello: on.hello,
      broken: (g) => {
        this.open.delete(call);
        on.broken(g);
      },
    });
  }

  /** Tells every guardian on a stream that the machine stops: they exit when told (ones from before us are not ours to signal). */
  stopAll(): void {
    for (const call of this.open) {
      call.write(STOPPING);
      call.end();
    }
  }
}
