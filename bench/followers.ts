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
import { actAs, chatClient, type BenchPerson } from './server';
import { nowMs } from './stats';

interface Follower {
  client: ChatClient;
  stream?: ClientReadableStream<SubscribeItem__Output>;
  heard: boolean;
}

/** As fbc does, a follower whose stream failed subscribes again: 1,000 simultaneous key handshakes on a busy host may time out. */
const RESUBSCRIBE_MS = 200;

const followers: Follower[] = [];
let latencies: number[] = [];
let streamErrors = 0;
let closing = false;

function subscribe(f: Follower, user: string): void {
  const stream = (f.stream = f.client.Subscribe({ user }));
  stream.on('data', (item: SubscribeItem__Output) => {
    const text = item.event?.text ?? '';
    if (!text.startsWith(STAMP)) return;
    latencies.push(nowMs() - Number(text.slice(STAMP.length)));
    f.heard = true;
  });
  stream.on('error', () => {
    if (closing) return;
    streamErrors++;
    setTimeout(() => closing || subscribe(f, user), RESUBSCRIBE_MS);
  });
}

serveParent({
  open: ({ address, users, person }: { address: string; users: string[]; person: BenchPerson }) => {
    const keys = actAs(person);
    for (const user of users) {
      const f: Follower = { client: chatClient(address, keys), heard: false };
      subscribe(f, user);
      followers.push(f);
    }
    return followers.length;
  },
  /** Followers that have received at least one stamped post (their stream is live). */
  heard: () => followers.filter((f) => f.heard).length,
  received: () => latencies.length,
  /** The latencies measured and the stream errors seen since the last collect. */
  collect: () => {
    const out = { latencies, streamErrors };
    latencies = [];
    streamErrors = 0;
    return out;
  },
  close: () => {
    closing = true;
    for (const f of followers) {
      f.stream?.cancel();
      f.client.close();
    }
    return true;
  },
});
