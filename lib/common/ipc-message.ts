/** Messages between a machine's primary and its children (node:cluster IPC): each is an object with a `type`. */

/** `msg` is a message of `type`; the caller checks its other fields. */
export function isMessageOf<T extends { type: string }>(msg: unknown, type: T['type']): msg is T {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === type;
}
