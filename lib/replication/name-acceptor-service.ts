/**
 * The machine's acceptor for names (docs/names.md), served by the replicator on the
 * peer port beside Pull: a proposer's prepare or accept is answered by the pure step
 * (core/name-acceptor.ts) from the stored record and what this machine's data holds
 * of the name, after the changed record is on disk. An accept is answered with this
 * machine's signed vote.
 *
 * A machine whose records were lost (no votes file: a new data dir, or the first
 * start of this release) answers "not-ready" until it has merged its peers' records
 * (mayVoteAgain), so it never votes from empty state.
 */
import * as grpc from '@grpc/grpc-js';
import { keyText } from '../core/identity';
import { acceptorStep, mayVoteAgain, mergeRecords, type KnownName, type PeerRecords } from '../core/name-acceptor';
import type { Ballot, NameValue } from '../core/name-ballot';
import { ballotFromWire, replyToWire, requestFromWire, valueFromWire } from '../core/name-wire';
import type { ClusterConfig } from '../common/config';
import { errorMessage, type Logger } from '../common/log';
import { claimError } from '../common/peer-identity';
import type { VoteClients } from '../common/vote-clients';
import type { ReplicationHandlers } from '../gen/ftchat/Replication';
import type { VoteRecord, VoteRecord__Output } from '../gen/ftchat/VoteRecord';
import type { Journal } from '../storage/journal';
import { asRecord, type NameVotes } from '../storage/name-votes';
import type { RoomKeys } from '../storage/room-keys';

const RECORDS_PER_MESSAGE = 1_000;
const LEARN_EVERY_MS = 1_000;
const LEARN_TIMEOUT_MS = 10_000;

export interface NameAcceptorOptions {
  config: ClusterConfig;
  machine: string;
  journal: Journal;
  roomKeys: RoomKeys;
  votes: NameVotes;
  sign: (value: NameValue, ballot: Ballot) => string;
  log: Logger;
}

export class NameAcceptor {
  constructor(private readonly o: NameAcceptorOptions) {}

  handlers(): Pick<ReplicationHandlers, 'Vote' | 'VoteRecords'> {
    return {
      Vote: (call, callback) => {
        this.vote(call).then((reply) => callback(null, reply), (err: Error & { code?: number }) => callback({ code: err.code ?? grpc.status.UNAVAILABLE, details: errorMessage(err) }));
      },
      VoteRecords: (call) => {
        const refused = this.claimRefused('VoteRecords', call);
        if (refused) return call.emit('error', { code: grpc.status.PERMISSION_DENIED, details: refused });
        const all = this.o.votes.all().map(([name, r]): VoteRecord => ({ name, promised: r.promised, accepted_ballot: r.accepted?.ballot ?? null, accepted: r.accepted?.value ?? null }));
        for (let i = 0; i < all.length || i === 0; i += RECORDS_PER_MESSAGE) call.write({ records: all.slice(i, i + RECORDS_PER_MESSAGE), ready: this.o.votes.ready });
        call.end();
      },
    };
  }

  private async vote(call: grpc.ServerUnaryCall<Parameters<ReplicationHandlers['Vote']>[0]['request'], unknown>) {
    const refused = this.claimRefused('Vote', call);
    if (refused) throw Object.assign(new Error(refused), { code: grpc.status.PERMISSION_DENIED });
    const req = requestFromWire(call.request);
    if (!req) throw Object.assign(new Error('malformed vote request'), { code: grpc.status.INVALID_ARGUMENT });
    if (!this.o.votes.ready) return replyToWire({ type: 'not-ready', reason: `${this.o.machine} is learning its peers' votes (a new data dir)` });
    const step = acceptorStep(this.o.votes.get(req.name), this.known(req.name), req);
    if (step.store) await this.o.votes.put(req.name, step.store);
    const reply = step.reply;
    return replyToWire(reply.type === 'accepted' ? { ...reply, vote: this.o.sign(reply.value, reply.ballot) } : reply);
  }

  /** Why a caller is refused: its certificate names another machine than it claims (logged); null if it does not. */
  private claimRefused(method: string, call: { getPeer(): string; request: { from: string } } & Parameters<typeof claimError>[1]): string | null {
    const why = claimError(call.request.from, call, this.o.config.tls);
    if (why) this.o.log.warn('refused a peer claiming another machine', { method, claimed: call.request.from, peer: call.getPeer(), reason: why });
    return why;
  }

  /** What this machine's data holds of a case-folded name: a settled spelling first, else the first held. */
  private known(name: string): KnownName | null {
    let held: KnownName | null = null;
    for (const room of this.o.journal.index.rooms.spellings(name).sort()) {
      const k = this.o.roomKeys.of(room);
      if (k?.certified && k.event.proof) return { value: { name: room, key: keyText(k.raw) }, proof: k.event.proof };
      held ??= { value: { name: room, key: k ? keyText(k.raw) : '' }, proof: null };
    }
    return held;
  }

  /**
   * Until this machine may vote: asks each peer for its records every second, and
   * stores each merged record it did not hold (fsynced) before it says it may.
   */
  async learn(clients: VoteClients): Promise<void> {
    const { votes, machine, log } = this.o;
    if (votes.ready) return;
    const peers = clients.machines.filter((m) => m !== machine);
    const answers: PeerRecords[] = [];
    log.info("learning the peers' name votes before voting (no votes file: a new data dir or a first start)", { peers });
    while (!mayVoteAgain(answers, peers)) {
      for (const peer of peers.filter((p) => !answers.some((a) => a.peer === p))) {
        try {
          const { records } = await clients.records(peer, LEARN_TIMEOUT_MS);
          for (const r of records) await this.merge(r);
          answers.push({ peer, accepted: records.filter((r) => r.accepted_ballot).length });
        } catch (err) {
          log.debug('a peer did not give its name votes yet', { peer, error: errorMessage(err) });
        }
      }
      if (!mayVoteAgain(answers, peers)) await new Promise((r) => setTimeout(r, LEARN_EVERY_MS));
    }
    await votes.markReady();
    log.info('learned the name votes of the peers: voting', { answered: answers.map((a) => a.peer), records: votes.size });
  }

  private async merge(r: VoteRecord__Output): Promise<void> {
    const accepted = r.accepted_ballot ? { ballot: ballotFromWire(r.accepted_ballot), value: valueFromWire(r.accepted) } : null;
    const record = asRecord(r.promised ? ballotFromWire(r.promised) : null, accepted);
    if (!record || typeof r.name !== 'string') return;
    const mine = this.o.votes.get(r.name);
    const merged = mergeRecords(mine, record);
    if (JSON.stringify(merged) !== JSON.stringify(mine)) await this.o.votes.put(r.name, merged);
  }
}
