/**
 * Settles a new name before its first session (docs/names.md): runs the proposer
 * (core/name-proposer.ts) against every machine's acceptor, each call with a
 * deadline, pausing a random few ms after a higher ballot was seen, until the name
 * is decided or the time is up. A vote or proof that does not verify counts as no
 * answer, so a create written from the result always carries a valid proof.
 */
import { randomBytes } from 'node:crypto';
import { foldName, majority, sameValue, type NameValue } from '../core/name-ballot';
import { proofError, encodeProof, voteError, type ProofTrust } from '../core/name-proof';
import { NameProposer, type Send } from '../core/name-proposer';
import { replyFromWire, requestToWire } from '../core/name-wire';
import { errorMessage, type Logger } from '../common/log';
import type { VoteClients } from '../common/vote-clients';

export type Settled =
  /** The name is this value's, and this is the proof its create carries. */
  | { type: 'mine'; proof: string }
  /** The name is another key's or spelling's. */
  | { type: 'other'; value: NameValue }
  /** No majority answered in time. */
  | { type: 'unavailable'; answered: number; of: number; needed: number };

/** After a higher ballot: a pause of up to this, so racing proposers stop colliding. */
const BACKOFF_MAX_MS = 40;

export class NameSettlement {
  constructor(
    private readonly clients: VoteClients,
    private readonly trust: ProofTrust,
    private readonly machine: string,
    private readonly log: Logger,
  ) {}

  /** Settles `value` within `budgetMs` (each acceptor call gets at most `callMs`). */
  settle(value: NameValue, budgetMs: number, callMs: number): Promise<Settled> {
    const acceptors = this.clients.machines;
    const p = new NameProposer({ name: foldName(value.name), value, acceptors, id: `${this.machine}.${randomBytes(6).toString('hex')}`, round: Date.now() });
    let attempt = 0;
    const answered = new Set<string>();
    let retry: NodeJS.Timeout | null = null;
    return new Promise<Settled>((resolve) => {
      const finish = (s: Settled): void => {
        clearTimeout(timer);
        if (retry) clearTimeout(retry);
        resolve(s);
      };
      const timer = setTimeout(() => finish({ type: 'unavailable', answered: answered.size, of: acceptors.length, needed: majority(acceptors.length) }), budgetMs);
      const after = (sends: Send[]): void => {
        if (p.outcome) return finish(this.judge(value, p));
        if (sends.length > 0) send(sends);
        if (p.backingOff && !retry) {
          retry = setTimeout(() => {
            retry = null;
            after(p.retry());
          }, 1 + Math.random() * BACKOFF_MAX_MS);
        }
      };
      const send = (sends: Send[]): void => {
        const mine = ++attempt;
        for (const s of sends) {
          this.clients.vote(s.to, requestToWire(this.machine, s.req), callMs).then(
            (wire) => {
              const reply = replyFromWire(wire);
              const bad = !reply ? 'malformed reply' : reply.type === 'accepted' ? voteError(s.to, reply.vote, reply.value, reply.ballot, this.trust) : reply.type === 'decided' ? proofError(reply.proof, reply.value, this.trust) : null;
              if (bad) this.log.warn('a name acceptor gave what does not verify', { acceptor: s.to, name: value.name, reason: bad });
              if (reply?.type !== 'not-ready' && !bad) answered.add(s.to);
              after(reply && !bad ? p.receive(s.to, reply) : mine === attempt ? p.failed(s.to) : []);
            },
            (err) => {
              this.log.debug('a name acceptor did not answer', { acceptor: s.to, name: value.name, error: errorMessage(err) });
              after(mine === attempt ? p.failed(s.to) : []);
            },
          );
        }
      };
      after(p.start());
    });
  }

  private judge(value: NameValue, p: NameProposer): Settled {
    const o = p.outcome!;
    if (o.type === 'taken' || !sameValue(o.value, value)) return { type: 'other', value: o.value };
    return { type: 'mine', proof: o.type === 'learned' ? o.proof : encodeProof(o.ballot, o.votes) };
  }
}
