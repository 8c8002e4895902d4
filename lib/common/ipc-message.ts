/**
 * Every message that crosses node IPC between a machine's primary and its children
 * (workers and the replicator), as one typed union, parsed in one place. A process
 * reads its IPC through one IpcInbox: each message is checked once against its
 * type's shape; a message of no known type, or of a known type but malformed, is
 * dropped with one log line, and a known one goes to the handlers of its type.
 */
import { isOrigin } from '../core/event';
import { QUOTA_KINDS, type Grant, type QuotaKind } from '../core/quota-leases';
import { isUsername } from '../core/usernames';
import { asWalPosition, type WalPosition } from '../core/wal-position';
import type { Logger } from './log';
import type { ProcessMetrics } from './metrics';

/** Primary -> child: are you alive? */
export interface Ping {
  type: 'ping';
}

/** Child -> primary: alive; `loading` while it reads the machine's state and does not serve yet. */
export interface Pong {
  type: 'pong';
  loading?: boolean;
}

/**
 * Both ways, through the primary: after a writer's group commit, which rooms grew,
 * the top seq it wrote per origin, and where its write-ahead log record lies
 * (lib/machine/doorbell.ts).
 */
export interface Doorbell {
  type: 'doorbell';
  rooms: string[];
  /** Per origin, the highest seq the commit wrote. */
  upTo?: Record<string, number>;
  /** Where the commit's write-ahead log record lies: its lines, in one read. */
  record?: WalPosition;
}

/** Worker -> primary: `user` has (on) or no longer has (off) a chat stream here. */
export interface ChatMode {
  type: 'chat-mode';
  user: string;
  on: boolean;
}

/** Primary -> worker: `user` is (on) or is not (off) in chat mode on another worker. */
export interface ChatElsewhere {
  type: 'chat-elsewhere';
  user: string;
  on: boolean;
}

/** Replicator -> primary: each peer's last measured clock offset from ours. */
export interface ClockOffsets {
  type: 'clock';
  offsets: Record<string, number>;
}

/** Worker -> primary: a lease of the machine's quota tokens, please (core/quota-leases). */
export interface QuotaAsk {
  type: 'quota';
  id: number;
  kind: QuotaKind;
  key: string;
  want: number;
  /** Tokens of this worker's lapsed lease of `key`, given back. */
  unspent: number;
}

/** Primary -> worker: the answer to a QuotaAsk. */
export interface QuotaAnswer extends Grant {
  type: 'quota-grant';
  id: number;
}

/** Primary -> child: your metrics, please (a scrape of the machine's endpoint). */
export interface MetricsAsk {
  type: 'metrics-ask';
  id: number;
}

/** Child -> primary: its metrics, as prom-client's getMetricsAsJSON gives them. */
export interface MetricsAnswer {
  type: 'metrics';
  id: number;
  metrics: ProcessMetrics;
}

export type IpcMessage = Ping | Pong | Doorbell | ChatMode | ChatElsewhere | ClockOffsets | QuotaAsk | QuotaAnswer | MetricsAsk | MetricsAnswer;
export type IpcType = IpcMessage['type'];
export type IpcOf<T extends IpcType> = Extract<IpcMessage, { type: T }>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isBool = (v: unknown): boolean => typeof v === 'boolean';
const isInt = (v: unknown): boolean => Number.isSafeInteger(v);

function isUpTo(v: unknown): boolean {
  return isObject(v) && Object.entries(v).every(([origin, seq]) => isOrigin(origin) && isInt(seq) && (seq as number) > 0);
}

/** Each type's shape, beyond its `type`. */
const SHAPES: { [T in IpcType]: (m: Record<string, unknown>) => boolean } = {
  ping: () => true,
  pong: (m) => m.loading === undefined || isBool(m.loading),
  doorbell: (m) =>
    Array.isArray(m.rooms) && m.rooms.every(isUsername) && (m.upTo === undefined || isUpTo(m.upTo)) && (m.record === undefined || asWalPosition(m.record) !== null),
  'chat-mode': (m) => typeof m.user === 'string' && isUsername(m.user) && isBool(m.on),
  'chat-elsewhere': (m) => typeof m.user === 'string' && isUsername(m.user) && isBool(m.on),
  clock: (m) => isObject(m.offsets) && Object.values(m.offsets).every((x) => typeof x === 'number' && Number.isFinite(x)),
  quota: (m) => isInt(m.id) && (QUOTA_KINDS as readonly unknown[]).includes(m.kind) && typeof m.key === 'string' && typeof m.want === 'number' && isInt(m.unspent) && (m.unspent as number) >= 0,
  'quota-grant': (m) => isInt(m.id) && typeof m.tokens === 'number' && typeof m.waitMs === 'number',
  'metrics-ask': (m) => isInt(m.id),
  metrics: (m) => isInt(m.id) && Array.isArray(m.metrics),
};

/** `msg` as a message of the union, or why it is none. */
export function parseIpcMessage(msg: unknown): IpcMessage | string {
  if (!isObject(msg)) return 'not an object';
  const type = msg.type;
  if (typeof type !== 'string' || !Object.hasOwn(SHAPES, type)) return `unknown type ${JSON.stringify(type)}`.slice(0, 80);
  return SHAPES[type as IpcType](msg) ? (msg as unknown as IpcMessage) : `a malformed ${type}`;
}

/** Anything that receives IPC messages: `process` in a child, a cluster Worker in the primary. */
export interface IpcSource {
  on(event: 'message', listener: (msg: unknown) => void): unknown;
}

/** A process's one reader of an IPC source: parses each message once and hands it to the handlers of its type. */
export class IpcInbox {
  private readonly handlers = new Map<IpcType, ((msg: IpcMessage) => void)[]>();

  constructor(source: IpcSource, log: Logger) {
    source.on('message', (raw) => {
      const msg = parseIpcMessage(raw);
      if (typeof msg === 'string') log.warn('dropped an IPC message', { reason: msg });
      else for (const h of this.handlers.get(msg.type) ?? []) h(msg);
    });
  }

  on<T extends IpcType>(type: T, handler: (msg: IpcOf<T>) => void): this {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), handler as (msg: IpcMessage) => void]);
    return this;
  }
}
