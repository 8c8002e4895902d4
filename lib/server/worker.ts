/**
 * A worker process: loads the machine's room files, serves the Chat service on
 * the machine's client port (shared by all workers through node:cluster), and
 * keeps in step with the other writers through the primary's doorbell.
 */
import * as grpc from '@grpc/grpc-js';
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import { clusterKeys } from '../core/identity';
import { reportLoopDelay } from '../common/loop-delay';
import { clientPortCredentials } from '../common/transport-security';
import { incarnationOf } from '../storage/incarnation';
import { writerOrigin } from '../core/origins';
import { chatServiceDefinition, createChatService } from './chat-service';
import { isChatElsewhere, type ChatMode } from './chat-presence';
import { isDoorbell, type Doorbell } from '../machine/doorbell';
import { openMachineJournal, stopOnSignal } from '../machine/machine-child';
import { answerPings, askPrimaryForQuota } from '../machine/child-ipc';
import { Quotas } from './quotas';
import { RetiredFileReader } from '../storage/retired-file';
import { machineDirOf } from '../storage/data-dir';
import { KEEPALIVE_OPTIONS } from '../common/keepalive';

export interface WorkerOptions {
  config: ClusterConfig;
  machine: string;
  slot: number;
  log: Logger;
  /** How to run fbs (for the one-shot checkpoint builder). */
  fbsCommand: string[];
}

export async function runWorker({ config, machine, slot, log, fbsCommand }: WorkerOptions): Promise<void> {
  const journal = openMachineJournal(config, machine, log, (machineDir) => writerOrigin(machine, incarnationOf(machineDir), slot), fbsCommand);

  // Listen before loading, so nothing rung while we load is missed.
  const chattingElsewhere = new Set<string>();
  process.on('message', (msg: unknown) => {
    if (isDoorbell(msg)) journal.ring(msg);
    else if (isChatElsewhere(msg)) {
      if (msg.on) chattingElsewhere.add(msg.user);
      else chattingElsewhere.delete(msg.user);
    }
  });
  journal.onCommitted((c) => process.send?.({ type: 'changed', ...c } satisfies Doorbell));
  reportLoopDelay(log);
  const pings = answerPings();
  await journal.load();

  const quotas = new Quotas(config.quotas, askPrimaryForQuota());
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
      presence: {
        elsewhere: (user) => chattingElsewhere.has(user),
        changed: (user, on) => process.send?.({ type: 'chat-mode', user, on } satisfies ChatMode),
      },
      retired: () => retired.current(),
    }));
  const { host, port } = config.machines[machine];
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, clientPortCredentials(config, machine), (err) => (err ? reject(err) : resolve())),
  );
  log.info('worker serving', { address: `${host}:${port}`, origin: journal.origin });
  pings.serving();

  stopOnSignal(server);
}
