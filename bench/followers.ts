/**
 * Helper process: holds many followers in chat mode, each a real Subscribe stream
 * on a connection of its own (as each user's fbc would), and times every bench post
 * they receive against the send time stamped in its text.
 */
import type { ClientReadableStream } from '@grpc/grpc-js';
import type { ChatClient } from '../lib/gen/ftchat/Chat';
import type { SubscribeItem__Output } from '../lib/gen/ftchat/SubscribeItem';
import { serveParent } from './child-link';
import { STAMP } from './delivery';
import { chatClient } from './server';
import { nowMs } from './stats';

interface Follower {
  client: ChatClient;
  stream: ClientReadableStream<SubscribeItem__Output>;
  heard: boolean;
}

const followers: Follower[] = [];
let latencies: number[] = [];
let streamErrors = 0;
let closing = false;

serveParent({
  open: ({ address, users }: { address: string; users: string[] }) => {
    for (const user of users) {
      const client = chatClient(address);
      const stream = client.Subscribe({ user });
      const f: Follower = { client, stream, heard: false };
      stream.on('data', (item: SubscribeItem__Output) => {
        const text = item.event?.text ?? '';
        if (!text.startsWith(STAMP)) return;
        latencies.push(nowMs() - Number(text.slice(STAMP.length)));
        f.heard = true;
      });
      stream.on('error', () => {
        if (!closing) streamErrors++;
      });
      followers.push(f);
    }
    return followers.length;
  },
  /** Followers that have received at least one stamped post (their stream is live). */
  heard: () => followers.filter((f) => f.heard).length,
  received: () => latencies.length,
  /** The latencies measured since the last collect. */
  collect: () => {
    const out = { latencies, streamErrors };
    latencies = [];
    return out;
  },
  close: () => {
    closing = true;
    for (const f of followers) {
      f.stream.cancel();
      f.client.close();
    }
    return true;
  },
});
