/** A guardian's links to its siblings, for the ring election's messages: one that is not delivered in time comes back as a failed delivery. */
import { adminAddress } from '../common/config';
import type { RingMsg } from '../control/election';
import type { GuardianInput } from '../control/reviver';
import { AdminPeer } from './admin-client';
import type { GuardianOptions } from './guardian';
import { toWire } from './guardian-server';

export class GuardianRing {
  private readonly siblings: Map<string, AdminPeer>;

  /** `siblings`: each other guardian's id and slot. */
  constructor({ config, machine }: GuardianOptions, private readonly me: string, siblings: (readonly [string, number])[], private readonly sendMs: number, private readonly heard: (input: GuardianInput) => void) {
    this.siblings = new Map(siblings.map(([id, i]) => [id, new AdminPeer(adminAddress(config, machine, i), config)]));
  }

  send(to: string, msg: RingMsg): void {
    const failed = (): void => this.heard({ kind: 'deliveryFailed', to, msg });
    const peer = this.siblings.get(to);
    if (!peer) return failed();
    peer.elect(toWire(msg, this.me), this.sendMs).catch(failed);
  }
}
