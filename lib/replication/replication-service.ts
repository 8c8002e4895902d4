/**
 * The serving side of replication: a peer's Pull gets everything this machine
 * has that the peer's vector does not cover, then every event as it is applied
 * here (PullStream), beside the name acceptor's calls.
 */
import * as grpc from '@grpc/grpc-js';
import type { VersionVector } from '../core/version-vector';
import type { Logger } from '../common/log';
import type { ReplicationHandlers } from '../gen/ftchat/Replication';
import type { ShipLog } from './ship-log';
import type { RetirementBook } from './retirement-book';
import type { Journal } from '../storage/journal';
import { machineOfOrigin } from '../core/origins';
import { claimError } from '../common/peer-identity';
import { countAfter } from './backlog-pages';
import { PullStream, type PullCall } from './pull-stream';

/**
 * The Replication handlers: Pull (a puller's certificate must name the machine its
 * `from` claims, when `tls`) beside the name acceptor's calls; `endAll()` for a clean
 * stop (each peer hears the stream end, not a dropped connection); `lag()`: per peer
 * that has pulled, the events held here that were not yet sent to it (it grows while
 * the peer's link is down).
 */
export function createReplicationService(
  journal: Journal,
  ship: ShipLog,
  book: RetirementBook,
  log: Logger,
  tls: boolean,
  names: Pick<ReplicationHandlers, 'Vote' | 'VoteRecords'>,
): { handlers: ReplicationHandlers; endAll(): void; lag(): Record<string, number> } {
  const open = new Set<PullStream>();
  const sent = new Map<string, VersionVector>();
  return {
    handlers: {
      Pull: (call: PullCall) => {
        const refused = claimError(call.request.from, call, tls);
        if (!refused) {
          const stream = new PullStream(journal, book, log, call, (s) => open.delete(s));
          sent.set(stream.from, stream.sent);
          open.add(stream);
          return stream.start(ship);
        }
        log.warn('refused a peer claiming another machine', { method: 'Pull', claimed: call.request.from, peer: call.getPeer(), reason: refused });
        call.emit('error', { code: grpc.status.PERMISSION_DENIED, details: refused });
      },
      ...names,
    },
    endAll: () => open.forEach((s) => s.end()),
    lag: () => {
      const held = journal.index.seqs.vector();
      // The peer's own machine's events are never sent to it: they are not its lag.
      return Object.fromEntries([...sent].map(([peer, upTo]) => [peer, countAfter(upTo, held, (origin) => machineOfOrigin(origin) !== peer)]));
    },
  };
}
