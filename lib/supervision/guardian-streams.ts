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
function guardianOf(b: Beat__Output, config: ClusterConfig, machine: string): { slot: number; pid: number } | string | undefined {
  const bad = internalRequestError('Watch', b);
  if (bad) return bad;
  const slot = Array.from({ length: config.guardians }, (_, i) => i).find((i) => guardianId(machine, i) === b.from);
  if (slot === undefined) return undefined;
  return isGuardianOf(b.pid, machine, slot) ? { slot, pid: b.pid } : `pid ${b.pid} is not ${b.from} on this machine`;
}

/** One guardian's Watch stream: its hello is answered with `hello`'s beat; `broken` once, when it ends. */
export function serveGuardianStream(
  call: grpc.ServerDuplexStream<Beat__Output, Beat>,
  config: ClusterConfig,
  machine: string,
  log: Logger,
  on: { hello(g: { slot: number; pid: number }): Beat; broken(g: { slot: number; pid: number } | undefined): void },
): void {
  let guardian: { slot: number; pid: number } | undefined;
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
