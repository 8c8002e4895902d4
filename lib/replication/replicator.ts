/**
 * The replicator: one process per machine (a node:cluster child of the machine's
 * primary, revived like a worker). It keeps its own journal over the machine's
 * room files, learns of local writes from the doorbell, serves
 * the Replication service to the peers on the machine's peer port, and pulls
 * from every peer. What it appends rings the doorbell, so the local workers read
 * the new lines and stream them to their subscribers.
 */
import { internalRequestError } from '../core/input-bounds';
import { peerAddress, type ClusterConfig } from '../common/config';
import { serveInternal } from '../common/internal-server';
import { errorMessage, type Logger } from '../common/log';
import { reportLoopDelay } from '../common/loop-delay';
import { ftchatProto } from '../common/proto';
import { machineChannelCredentials } from '../common/transport-security';
import { IpcInbox, type ClockOffsets, type Doorbell } from '../common/ipc-message';
import { proofTrust, voteSigner } from '../common/name-trust';
import { VoteClients } from '../common/vote-clients';
import { NameVotes } from '../storage/name-votes';
import { machineDirOf } from '../storage/data-dir';
import type { Journal } from '../storage/journal';
import { logClaims, provedBy, RoomKeys } from '../storage/room-keys';
import { openMachineJournal, stopOnSignal } from '../machine/machine-child';
import { answerMetricsAsks, answerPings, toPrimary } from '../machine/child-ipc';
import { metrics, refreshOnCollect } from '../common/metrics';
import { CatchUpGate } from './catch-up-gate';
import { ClockSkewMonitor } from './clock-skew';

import { NameAcceptor } from './name-acceptor-service';
import { PeerLink } from './peer-link';
import { createReplicationService } from './replication-service';
import { RetirementBook } from './retirement-book';
import { incarnationOf } from '../storage/incarnation';
import { ShipLog } from './ship-log';

const CLOCK_REPORT_MS = 2_000;
/** How often the replicator looks whether it may retire its machine's older origins. */
const RETIRE_CHECK_MS = 2_000;
/** A checkpoint once this many events came in since the last, or storage.checkpointAfterMs (a minute) after any did. */
const CHECKPOINT_EVENTS = 100_000;
const CHECKPOINT_CHECK_MS = 5_000;
/** Of the descriptor limit, kept as open room files (see RoomFilesOptions.handleShare): it has few connections. */
const REPLICATOR_HANDLE_SHARE = 3 / 4;

export interface ReplicatorOptions {
  config: ClusterConfig;
  machine: string;
  log: Logger;
  /** How to run fbs (for the one-shot checkpoint builder). */
  fbsCommand: string[];
}

export async function runReplicator({ config, machine, log, fbsCommand }: ReplicatorOptions): Promise<void> {
  // Its origin never stamps anything: the replicator only appends events stamped elsewhere.
  const journal = openMachineJournal(config, machine, log, () => `${machine}.replicator`, fbsCommand, REPLICATOR_HANDLE_SHARE);
  const ship = new ShipLog((origin) => journal.index.seqs.seqOf(origin));
  journal.listeners.onEveryEvent((e) => ship.offer(e));
  journal.listeners.onCommitted((c) => toPrimary({ type: 'doorbell', ...c } satisfies Doorbell));
  // Local writers ring the doorbell after every commit; listening before the load
  // means nothing rung meanwhile is missed. (A chokidar watch of the rooms dir was
  // measured as a safety net: it re-scanned the dir on every change, 20-27 ms of CPU
  // per post with 1,100 rooms, and the doorbell arrived first 26 times in 28.)
  const inbox = new IpcInbox(process, log).on('doorbell', (msg) => journal.ring(msg));
  const loop = reportLoopDelay(log);
  const pings = answerPings(inbox);
  answerMetricsAsks(inbox);
  await journal.load();
  ship.startAt(journal.index.seqs.vector());
  checkpointInBackground(journal, config, log);

  const machines = new Set(Object.keys(config.machines));
  const machineDir = machineDirOf(config.dataDir, machine);
  const book = new RetirementBook(machineDir, machines, log);
  const acceptor = await openNameAcceptor(config, machine, machineDir, journal, log);
  const address = peerAddress(config, machine);
  const service = createReplicationService(journal, ship, book, log, config.tls, acceptor.handlers());
  const server = await serveInternal(ftchatProto().ftchat.Replication.service, service.handlers, address, config, machine, log, internalRequestError);
  learnNameVotes(acceptor, config, machine, log);

  const skew = new ClockSkewMonitor(config.maxClockOffsetMs);
  // The primary shows the peers' clock offsets in `fbs status`.
  setInterval(() => toPrimary({ type: 'clock', offsets: skew.offsets() } satisfies ClockOffsets), CLOCK_REPORT_MS).unref();
  const peers = Object.keys(config.machines).filter((m) => m !== machine);
  const gate = new CatchUpGate();
  const opening = new Set<string>();
  const links = peers.map(
    (peer) => new PeerLink({ machine, peer, address: peerAddress(config, peer), secret: config.secret, credentials: machineChannelCredentials(config, machine), limits: config.limits, machines, journal, book, opening, skew, gate, log }),
  );
  for (const link of links) link.start();
  // Caught up with every peer, we hold every event our machine's older incarnations left anywhere: retire them.
  const incarnation = incarnationOf(machineDir);
  setInterval(() => {
    if (links.every((link) => link.status.live)) book.declare(machine, incarnation, journal.index);
  }, RETIRE_CHECK_MS).unref();
  refreshOnCollect(() => {
    for (const [peer, events] of Object.entries(service.lag())) metrics.replicationLag.set({ peer }, events);
    links.forEach((link, i) => metrics.peerLinkUp.set({ peer: peers[i] }, link.status.pulling ? 1 : 0));
    for (const [peer, ms] of Object.entries(skew.offsets())) metrics.clockOffset.set({ peer }, ms / 1000);
  });
  log.info('replicator serving', { address, peers });
  pings.serving();
  loop.serving();

  stopOnSignal(server, () => {
    links.forEach((link) => link.stop());
    service.endAll();
  });
}

/** The machine's checkpoints are written here, in the background: the replicator reads every line of the machine. */
function checkpointInBackground(journal: Journal, config: ClusterConfig, log: Logger): void {
  let lastCheckpoint = Date.now();
  setInterval(() => {
    // Every CHECKPOINT_EVENTS events, or any after checkpointAfterMs.
    const minEvents = Date.now() - lastCheckpoint >= config.storage.checkpointAfterMs ? 1 : CHECKPOINT_EVENTS;
    journal.checkpoint(minEvents).then(
      (wrote) => wrote && (lastCheckpoint = Date.now()),
      (err) => log.error('checkpoint failed', { error: errorMessage(err) }),
    );
  }, Math.min(CHECKPOINT_CHECK_MS, config.storage.checkpointAfterMs)).unref();
}

/** The machine's name acceptor (docs/names.md), its votes file open and every name claim it applies logged. */
async function openNameAcceptor(config: ClusterConfig, machine: string, machineDir: string, journal: Journal, log: Logger): Promise<NameAcceptor> {
  const roomKeys = new RoomKeys(journal, provedBy(proofTrust(config)), logClaims(log));
  const votes = new NameVotes(machineDir);
  await votes.open();
  return new NameAcceptor({ config, machine, journal, roomKeys, votes, sign: voteSigner(config, machine), log });
}

/** In the background: the peers' name votes, which a new data dir learns before it votes. */
function learnNameVotes(acceptor: NameAcceptor, config: ClusterConfig, machine: string, log: Logger): void {
  const voteClients = new VoteClients(config, machine);
  void acceptor.learn(voteClients).then(() => voteClients.close(), (err) => log.error('learning the name votes failed', { error: errorMessage(err) }));
}
