/**
 * The typed messages between a machine's primary and its children (node IPC) that
 * more than one kind of child speaks: liveness pings and their answers, and the
 * replicator's clock offsets. Doorbells have their own module (doorbell.ts).
 */
import { isMessageOf } from '../common/ipc-message';

/** A child's answer to a ping; `loading` while it reads the machine's state and does not serve yet. */
export interface Pong {
  type: 'pong';
  loading?: boolean;
}

/**
 * In a child, from its start: answer the primary's liveness pings, saying it is
 * loading until `serving()`, which also tells the primary at once (status shows
 * it up now, not a ping later). A loader yields often, so it answers throughout.
 */
export function answerPings(): { serving(): void } {
  let loading = true;
  const pong = (): void => void process.send?.({ type: 'pong', loading } satisfies Pong);
  process.on('message', (msg: unknown) => {
    if (isMessageOf(msg, 'ping')) pong();
  });
  return {
    serving: () => {
      loading = false;
      pong();
    },
  };
}

/** What the replicator tells its primary (IPC): each peer's last measured clock offset from ours. */
export interface ClockOffsets {
  type: 'clock';
  offsets: Record<string, number>;
}

export function isClockOffsets(msg: unknown): msg is ClockOffsets {
  return isMessageOf<ClockOffsets>(msg, 'clock') && typeof msg.offsets === 'object' && msg.offsets !== null;
}
