/**
 * The doorbell: after a writer's group commit, it tells the machine's primary
 * which rooms grew, the top seq it wrote per origin and where its write-ahead log
 * record lies, and the primary rings every other child, which then reads the new
 * events itself: through their index records and that record (Journal.ring), or
 * from the room files. The files stay the only source
 * of truth; the message only says where to look.
 */
import { isOrigin } from '../core/event';
import { isUsername } from '../core/usernames';
import { asWalPosition, type WalPosition } from '../core/wal-position';
import { isMessageOf } from '../common/ipc-message';

export interface Doorbell {
  type: 'changed';
  rooms: string[];
  /** Per origin, the highest seq the commit wrote. */
  upTo?: Record<string, number>;
  /** Where the commit's write-ahead log record lies: its lines, in one read. */
  record?: WalPosition;
}

export function isDoorbell(msg: unknown): msg is Doorbell {
  return isMessageOf<Doorbell>(msg, 'changed') && Array.isArray(msg.rooms) && msg.rooms.every(isUsername) && (msg.upTo === undefined || isUpTo(msg.upTo)) && (msg.record === undefined || asWalPosition(msg.record) !== null);
}

function isUpTo(v: unknown): v is Record<string, number> {
  return (
    typeof v === 'object' && v !== null && !Array.isArray(v) &&
    Object.entries(v).every(([origin, seq]) => isOrigin(origin) && Number.isSafeInteger(seq) && (seq as number) > 0)
  );
}
