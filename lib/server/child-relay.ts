/**
 * What a machine's primary passes between its children: doorbells, who is in chat
 * mode on which worker, the replicator's clock offsets; and the machine's quota
 * leases, granted to the workers that ask.
 */
import type { Worker } from 'node:cluster';
import type { IpcInbox, QuotaAnswer } from '../common/ipc-message';
import type { QuotaLedger } from '../core/quota-leases';
import { ChatPresence, type PresenceUpdate } from './chat-presence';

export class ChildRelay {
  private readonly presence = new ChatPresence();
  clockOffsets: Record<string, number> = {};

  constructor(private readonly children: Map<string, Worker>, private readonly isWorker: (key: string) => boolean, private readonly quotas: QuotaLedger) {}

  /** Takes the messages of child `from` that are the relay's. */
  listen(from: string, inbox: IpcInbox): void {
    inbox
      .on('quota', (msg) => {
        const answer: QuotaAnswer = { type: 'quota-grant', id: msg.id, ...this.quotas.grant(msg.kind, msg.key, msg.want, Date.now(), msg.unspent) };
        this.children.get(from)?.send(answer);
      })
      .on('chat-mode', (msg) => this.tell(this.presence.report(from, msg.user, msg.on, this.workerKeys())))
      .on('clock', (msg) => (this.clockOffsets = msg.offsets))
      .on('doorbell', (msg) => {
        for (const [k, other] of this.children) if (k !== from && other.isConnected()) other.send(msg);
      });
  }

  /** The child serves now (it listens): tell a worker who is in chat mode elsewhere. */
  serving(key: string): void {
    if (this.isWorker(key)) this.tell(this.presence.snapshotFor(key));
  }

  /** The child exited: its chat streams died with it. */
  gone(key: string): void {
    this.tell(this.presence.removeWorker(key, this.workerKeys()));
  }

  private workerKeys(): string[] {
    return [...this.children.keys()].filter(this.isWorker);
  }

  private tell(updates: PresenceUpdate[]): void {
    for (const u of updates) {
      const to = this.children.get(u.to);
      if (to?.isConnected()) to.send(u.msg);
    }
  }
}
