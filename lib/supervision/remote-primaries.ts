/**
 * The master's links to the other machines' primaries: a WatchChildren stream to
 * each, where a poll is one write (which also tells that primary it is watched),
 * each answer is that machine's children, and a stream that breaks is opened again
 * by the next poll; and the Admin client the revival requests go through.
 */
import { adminAddress, type ClusterConfig } from '../common/config';
import { errorMessage } from '../common/log';
import type { PollInput } from '../control/primary-polls';
import type { StatusResponse__Output } from '../gen/ftchat/StatusResponse';
import { AdminPeer } from './admin-client';

type ChildrenStream = ReturnType<AdminPeer['watchChildren']>;

export class RemotePrimaries {
  readonly peers: Map<string, AdminPeer>;
  private readonly streams = new Map<string, ChildrenStream>();

  constructor(config: ClusterConfig, machines: string[], private readonly heard: (input: PollInput) => void) {
    this.peers = new Map(machines.map((m) => [m, new AdminPeer(adminAddress(config, m), config)]));
  }

  poll(machine: string): void {
    let stream = this.streams.get(machine);
    if (!stream) this.streams.set(machine, (stream = this.open(machine)));
    stream.write({});
  }

  close(): void {
    const open = [...this.streams.values()];
    this.streams.clear(); // our own cancel: not a primary that stopped answering
    for (const stream of open) stream.cancel();
    for (const peer of this.peers.values()) peer.close();
  }

  private open(machine: string): ChildrenStream {
    const stream = this.peers.get(machine)!.watchChildren();
    const broken = (err: unknown): void => {
      if (this.streams.get(machine) !== stream) return;
      this.streams.delete(machine);
      this.heard({ kind: 'broken', machine, error: errorMessage(err) });
    };
    stream.on('data', (res: StatusResponse__Output) => {
      const children = res.processes.map((p) => ({ role: p.role, slot: Number(p.slot), pid: p.pid, heartbeatAgeMs: Number(p.heartbeat_age_ms) }));
      this.heard({ kind: 'answered', machine, children });
    });
    stream.on('error', broken);
    stream.on('end', () => broken(new Error('stream ended')));
    return stream;
  }
}
