/**
 * HTTP/2 keepalive for ftchat's long-lived calls (chat streams, replication pulls),
 * on clients and servers alike: a ping after 10 s without traffic, and a connection
 * whose ping goes unanswered for 5 s is dropped. A peer gone silently (machine off,
 * cable pulled) under an open stream is then noticed in about 15 s, not at the
 * kernel's TCP timeout, and the stream fails over or is pulled again.
 */
export const KEEPALIVE_OPTIONS = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
} as const;
