/**
 * Who is in chat mode on which worker of a machine. The server refuses join and
 * leave while a user is in chat mode, but node:cluster hands each connection to
 * any worker: a Join can land on one worker while the user's chat stream is open
 * on another. Workers report when a user's first stream opens and last one closes
 * (through the primary, like the doorbell); the primary keeps this table and tells
 * every other worker whether the user is in chat mode elsewhere.
 *
 * Pure: the primary feeds it and sends what it returns.
 */
import type { ChatElsewhere } from '../common/ipc-message';

/** A message for one worker. */
export interface PresenceUpdate {
  to: string;
  msg: ChatElsewhere;
}

export class ChatPresence {
  /** user -> the workers holding a chat stream of theirs */
  private readonly chatting = new Map<string, Set<string>>();

  /** `worker` reported `user`'s chat mode; `workers` are all the live workers. */
  report(worker: string, user: string, on: boolean, workers: string[]): PresenceUpdate[] {
    const before = this.views(user, workers);
    const holders = this.chatting.get(user) ?? new Set<string>();
    if (on) holders.add(worker);
    else holders.delete(worker);
    if (holders.size > 0) this.chatting.set(user, holders);
    else this.chatting.delete(user);
    return this.changes(user, before, workers);
  }

  /** `worker` is gone, with every stream it held. */
  removeWorker(worker: string, workers: string[]): PresenceUpdate[] {
    const out: PresenceUpdate[] = [];
    for (const [user, holders] of [...this.chatting]) {
      if (!holders.has(worker)) continue;
      const before = this.views(user, workers);
      holders.delete(worker);
      if (holders.size === 0) this.chatting.delete(user);
      out.push(...this.changes(user, before, workers));
    }
    return out;
  }

  /** What a newly started `worker` must be told: every user in chat mode on another worker. */
  snapshotFor(worker: string): PresenceUpdate[] {
    return [...this.chatting]
      .filter(([, holders]) => [...holders].some((h) => h !== worker))
      .map(([user]) => ({ to: worker, msg: { type: 'chat-elsewhere', user, on: true } }));
  }

  private elsewhere(user: string, worker: string): boolean {
    return [...(this.chatting.get(user) ?? [])].some((h) => h !== worker);
  }

  private views(user: string, workers: string[]): Map<string, boolean> {
    return new Map(workers.map((w) => [w, this.elsewhere(user, w)]));
  }

  private changes(user: string, before: Map<string, boolean>, workers: string[]): PresenceUpdate[] {
    return workers
      .filter((w) => before.get(w) !== this.elsewhere(user, w))
      .map((w) => ({ to: w, msg: { type: 'chat-elsewhere', user, on: this.elsewhere(user, w) } }));
  }
}
