/**
 * The doorbell: after a writer's group commit, it tells the machine's primary
 * which rooms grew, and the primary rings every other child, which then reads the
 * new lines itself. The files stay the only source of truth; the message only
 * says where to look.
 */
import { isUsername } from '../core/usernames';

export interface Doorbell {
  type: 'changed';
  rooms: string[];
}

export function isDoorbell(msg: unknown): msg is Doorbell {
  const m = msg as Doorbell | null;
  return typeof m === 'object' && m !== null && m.type === 'changed' && Array.isArray(m.rooms) && m.rooms.every(isUsername);
}
