/**
 * A guardian's Admin service: it answers heartbeats and status, and takes ring
 * messages (`Elect`, converted from the wire here). It forks nothing and is
 * watched by no one. A guardian whose slot's port is taken exits.
 */
import * as grpc from '@grpc/grpc-js';
import { internalRequestError } from '../core/input-bounds';
import { adminAddress } from '../common/config';
import { errorMessage } from '../common/log';
import { ftchatProto } from '../common/proto';
import { serveInternal } from '../common/internal-server';
import type { AdminHandlers } from '../gen/ftchat/Admin';
import type { ElectionMessage } from '../gen/ftchat/ElectionMessage';
import type { RingMsg } from '../control/election';
import { guardianRole } from './roles';
import { RestartLedger } from '../storage/restart-ledger';
import { machineDirOf } from '../storage/data-dir';
import type { GuardianOptions } from './guardian';

/** Serves the slot's admin port; `primaryTerm` is the primary's term as last heard, `elect` takes each ring message. */
export async function serveGuardian(opts: GuardianOptions, primaryTerm: () => number, elect: (msg: RingMsg) => void): Promise<grpc.Server> {
  const { config, machine, slot, log } = opts;
  const role = guardianRole(config, machine);
  const ledger = new RestartLedger(machineDirOf(config.dataDir, machine));
  const unimplemented = (details: string) => ({ code: grpc.status.UNIMPLEMENTED, details });
  const handlers: AdminHandlers = {
    Heartbeat: (_call, cb) => cb(null, { machine, role, pid: process.pid, term: primaryTerm() }),
    Status: (_call, cb) =>
      cb(null, {
        machine,
        term: primaryTerm(),
        processes: [{ machine, role, pid: process.pid, state: 'up', restarts: ledger.count(`guardian.${slot}`), heartbeat_age_ms: 0, slot: String(slot), uptime_ms: Math.round(process.uptime() * 1000) }],
      }),
    Watch: (call) => call.emit('error', unimplemented('guardians are not watched')),
    WatchChildren: (call) => call.emit('error', unimplemented('guardians fork no children')),
    Revive: (_call, cb) => cb(unimplemented('guardians fork no children; ask the primary')),
    Elect: (call, cb) => {
      cb(null, {});
      const msg = fromWire(call.request);
      if (msg) elect(msg);
    },
  };
  try {
    const server = await serveInternal(ftchatProto().ftchat.Admin.service, handlers, adminAddress(config, machine, slot), config, machine, log, internalRequestError);
    log.info('guardian watching the primary', { slot, address: adminAddress(config, machine, slot) });
    return server;
  } catch (err) {
    log.info('guardian slot already taken; exiting', { slot, error: errorMessage(err) });
    process.exit(0);
  }
}

export function toWire(msg: RingMsg, from: string): ElectionMessage {
  return msg.kind === 'election'
    ? { kind: msg.kind, term: msg.term, candidate: msg.candidateId, origin: msg.origin, from }
    : { kind: msg.kind, term: msg.term, candidate: msg.leaderId, origin: '', from };
}

function fromWire(w: { kind: string; term: number; candidate: string; origin: string }): RingMsg | null {
  const term = Number(w.term);
  if (w.kind === 'election') return { kind: 'election', term, candidateId: w.candidate, origin: w.origin };
  if (w.kind === 'elected') return { kind: 'elected', term, leaderId: w.candidate };
  return null;
}
