/**
 * A primary's Admin service on the machine's admin port: heartbeats, status, the
 * guardians' Watch streams, the master's WatchChildren polls and revival requests.
 * The port is bound by one process at a time: a second start is refused, and stands by.
 */
import * as grpc from '@grpc/grpc-js';
import { internalRequestError } from '../core/input-bounds';
import { adminAddress, type ClusterConfig } from '../common/config';
import { errorMessage, type Logger } from '../common/log';
import { ftchatProto } from '../common/proto';
import { serveInternal } from '../common/internal-server';
import type { AdminHandlers } from '../gen/ftchat/Admin';
import type { ProcessInfo } from '../gen/ftchat/ProcessInfo';
import type { StatusResponse } from '../gen/ftchat/StatusResponse';
import type { TakeoverInput } from '../control/takeover';
import type { Primary } from '../server/primary';
import { quarantinedFiles } from '../storage/room-quarantine';
import { uptimeMs } from '../common/proc-stat';
import type { GuardianKeeper } from './guardian-keeper';
import { readRecord } from './primary-record';
import { guardianRole, primaryRole } from './roles';

/** Who this primary process is, and what the admin port serves while it starts up: each is null or undefined until it runs. */
export interface PrimaryState {
  config: ClusterConfig;
  machine: string;
  machineDir: string;
  term: number;
  restarts: number;
  primary: Primary | null;
  guardians: GuardianKeeper | undefined;
  /** The keeper, made on first use: from the moment we hold the admin port (a Watch call may come first), never before. */
  keeper(): GuardianKeeper;
}

/** The machine's admin port, as one start binds it for the Takeover. */
export class AdminPort {
  private server: grpc.Server | null = null;

  constructor(private readonly self: PrimaryState, private readonly log: Logger) {}

  /** `bound`, with the record as read once bound (no other start can charge meanwhile), or refused while another primary holds the port. */
  async bind(): Promise<TakeoverInput> {
    const { config, machine, machineDir } = this.self;
    try {
      this.server = await serveInternal(ftchatProto().ftchat.Admin.service, adminHandlers(this.self), adminAddress(config, machine), config, machine, this.log, internalRequestError);
    } catch (err) {
      const detail = `another primary of ${machine} holds ${adminAddress(config, machine)} (${errorMessage(err)})`;
      return { kind: 'bound', ok: false, detail, record: null };
    }
    this.log.info('bound the admin port');
    return { kind: 'bound', ok: true, detail: '', record: readRecord(machineDir) };
  }

  close(): void {
    this.server?.forceShutdown();
  }
}

function adminHandlers(self: PrimaryState): AdminHandlers {
  const role = primaryRole(self.config, self.machine);
  return {
    Heartbeat: (_call, cb) => cb(null, { machine: self.machine, role, pid: process.pid, term: self.term }),
    Status: (_call, cb) => cb(null, statusOf(self)),
    WatchChildren: (call) => {
      call.on('data', () => {
        self.primary?.masterSeen();
        call.write(statusOf(self));
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined); // the master went away; it opens a new stream
    },
    Watch: (call) => self.keeper().watch(call),
    Elect: (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED, details: 'primaries take no part in elections' }),
    Revive: (call, cb) => {
      const { role: childRole, slot, pid } = call.request;
      cb(null, { action: self.primary ? self.primary.revive(childRole, slot, pid) : 'none: the primary is still starting' });
    },
  };
}

/** The machine's status: this process, its children and its guardians. */
function statusOf(self: PrimaryState): StatusResponse {
  const { config, machine, term, restarts, machineDir, primary, guardians } = self;
  const me: ProcessInfo = { machine, role: primaryRole(config, machine), pid: process.pid, state: 'up', restarts, heartbeat_age_ms: 0, slot: '', uptime_ms: Math.round(process.uptime() * 1000) };
  return {
    machine,
    term,
    clock_offsets_ms: primary?.clockOffsets() ?? {},
    max_clock_offset_ms: config.maxClockOffsetMs,
    quarantined: quarantinedFiles(machineDir),
    processes: [
      me,
      ...(primary?.children() ?? []).map((c) => ({
        machine, role: c.role, pid: c.pid, state: c.state, restarts: c.restarts, heartbeat_age_ms: c.heartbeatAgeMs, slot: String(c.slot), uptime_ms: uptimeMs(c.pid),
      })),
      ...(guardians?.view() ?? []).map((g) => ({
        machine, role: guardianRole(config, machine), pid: g.pid, state: g.state, restarts: g.restarts, heartbeat_age_ms: g.heartbeatAgeMs, slot: String(g.slot), uptime_ms: uptimeMs(g.pid),
      })),
    ],
  };
}
