/** What every group of the Chat service's handlers shares: the journal, the options, room keys, streams and verified tokens. */
import type { ClusterConfig } from '../common/config';
import type { Logger } from '../common/log';
import type { ClusterKeys } from '../core/identity';
import type { Retirements } from '../core/retirements';
import type { VerifiedTokens } from '../core/verified-tokens';
import type { ChatEvent } from '../core/event';
import type { Journal } from '../storage/journal';
import type { RoomKeys } from '../storage/room-keys';
import type { NameSettlement } from './name-settlement';
import type { ChatPresence, ChatStreams } from './chat-streams';
import type { Quotas } from './quotas';

export interface ChatServiceOptions {
  machine: string;
  limits: ClusterConfig['limits'];
  quotas: Quotas;
  /** MAC keys of nonces and session tokens (from the cluster secret). */
  keys: ClusterKeys;
  log: Logger;
  /** Chat mode on the machine's other workers (see chat-presence). */
  presence: ChatPresence;
  /** The retired origins this machine knows: cursors carry a marker in their place. */
  retired: () => Retirements;
  /** Settles new names with the cluster's majority. */
  names: NameSettlement;
  /** Whether a create carries a valid proof (storage/room-keys: provedBy). */
  proved: (e: ChatEvent) => boolean;
}

export interface ChatContext {
  readonly journal: Journal;
  readonly index: Journal['index'];
  readonly opts: ChatServiceOptions;
  readonly roomKeys: RoomKeys;
  readonly streams: ChatStreams;
  readonly tokens: VerifiedTokens;
}
