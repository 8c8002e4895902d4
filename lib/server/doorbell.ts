/**
 * The doorbell: after a writer's group commit, it tells the machine's primary
 * which rooms grew, and the primary rings every other child, which then reads the
 * new lines itself. The files stay the only source of truth; the message only
 * says where to look.
 */
import { isUsername } from '../core/usernames';
import { isMessageOf } from '../common/ipc-message';

export interface Doorbell {
  type: 'changed';
  rooms: string[];
}

export function isDoorbell(msg: unknown): msg is Doorbell {
  return isMessageOf<Doorbell>(msg, 'changed') && Array.isArray(msg.rooms) && msg.rooms.every(isUsername);
}
