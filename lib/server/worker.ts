/**
 * A worker process: loads the machine's room files, serves the Chat service on
 * the machine's client port (shared by all workers through node:cluster), and
 * keeps in step with the other writers through the primary's doorbell.
 */
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import { clusterKeys } from '../core/identity';
import { reportLoopDelay } from '../common/loop-delay';
import { clientPortCredentials } from '../common/transport-security';
import { incarnationOf } from '../storage/incarnation';
import { writerOrigin } from '../core/origins';
import { chatServiceDefinition, createChatService } from './chat-service';
import { IpcInbox, type ChatMode, type Doorbell } from '../common/ipc-message';
import { openMachineJournal, stopOnSignal } from '../machine/machine-child';
import { answerMetricsAsks, answerPings, askPrimaryForQuota, toPrimary } from '../machine/child-ipc';
import { Quotas } from './quotas';
import { RetiredFileReader } from '../storage/retired-file';
import { machineDirOf } from '../storage/data-dir';
import { KEEPALIVE_OPTIONS } from '../common/keepalive';
import { proofTrust } from '../common/name-trust';
import { VoteClients } from '../common/vote-clients';
import { provedBy } from '../storage/room-keys';
import { NameSettlement } from './name-settlement';

export interface WorkerOptions {
  config: ClusterConfig;
  machine: string;
  slot: number;
  log: Logger;
  /** How to run fbs (for the one-shot checkpoint builder). */
  fbsCommand: string[];
  /** Forked ahead by a standby primary: touch nothing of the machine's until it says go (warm-children.ts). */
  warm?: boolean;
}

/** A worker forked ahead by a standby, loaded and waiting (bench/master-kill.ts waits for it). */
export const WAITING_AHEAD = 'worker forked ahead: loaded, waiting for its primary to take charge';

export async function runWorker({ config, machine, slot, log, fbsCommand, warm }: WorkerOptions): Promise<void> {
  const inbox = new IpcInbox(process, log);
  const credentials = clientPortCredentials(config, machine);
  if (warm) {
    log.info(WAITING_AHEAD);
    await new Promise<void>((go) => inbox.on('go', () => go()));
  }
  // How long the process took to get here (node's start and module loading), for the recovery bench.
  const cpu = process.cpuUsage();
  log.info('worker loading', { sinceStartMs: Math.round(performance.now()), cpuMs: Math.round((cpu.user + cpu.system) / 1000) });
  const journal = openMachineJournal(config, machine, log, (machineDir) => writerOrigin(machine, incarnationOf(machineDir), slot), fbsCommand);

  // Listen before loading, so nothing rung while we load is missed.
  const chattingElsewhere = new Set<string>();
  inbox
    .on('doorbell', (msg) => journal.ring(msg))
    .on('chat-elsewhere', (msg) => (msg.on ? chattingElsewhere.add(msg.user) : chattingElsewhere.delete(msg.user)));
  journal.listeners.onCommitted((c) => toPrimary({ type: 'doorbell', ...c } satisfies Doorbell));
  const loop = reportLoopDelay(log);
  const pings = answerPings(inbox);
  answerMetricsAsks(inbox);
  await journal.load();

  const quotas = new Quotas(config.quotas, askPrimaryForQuota(inbox));
  const trust = proofTrust(config);
  const retired = new RetiredFileReader(machineDirOf(config.dataDir, machine), new Set(Object.keys(config.machines)), log);
  const server = new grpc.Server({
    interceptors: [quotas.interceptor],
    'grpc.max_concurrent_streams': config.limits.maxStreamsPerConnection,
    'grpc.max_receive_message_length': config.limits.maxMessageBytes,
    'grpc.max_send_message_length': config.limits.maxMessageBytes * 4,
    ...KEEPALIVE_OPTIONS,
  });
  server.addService(chatServiceDefinition, createChatService(journal, {
      machine,
      limits: config.limits,
      quotas,
      keys: clusterKeys(config.secret),
      log,
      names: new NameSettlement(new VoteClients(config, machine), trust, machine, log),
      proved: provedBy(trust),
      presence: {
        elsewhere: (user) => chattingElsewhere.has(user),
        changed: (user, on) => toPrimary({ type: 'chat-mode', user, on } satisfies ChatMode),
      },
      retired: () => retired.current(),
    }));
  const { host, port } = config.machines[machine];
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, credentials, (err) => (err ? reject(err) : resolve())),
  );
  log.info('worker serving', { address: `${host}:${port}`, origin: journal.origin });
  pings.serving();
  loop.serving();

  stopOnSignal(server);
}
