/**
 * cluster.json: the machines and their addresses, plus every tunable. Loaded and
 * checked once; anything wrong is one clear error naming the file and the key.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { MAX_MACHINES, MAX_WRITER_SLOTS } from '../core/origins';
import { REPO_ROOT } from './paths';

/** Memory a process gives to room tails: 2,000 rooms of 100 posts is about 60 MB at most. */
export const ROOM_CACHE_DEFAULTS = { cachedRooms: 2_000, tailPosts: 100 };
/** A write-ahead log segment is closed once it holds this much; a checkpoint is written this long after any new event. */
export const LOG_DEFAULTS = { walSegmentBytes: 16 << 20, checkpointAfterMs: 60_000 };

export interface MachineConfig {
  host: string;
  port: number; // client port, shared by the machine's workers
  /** The machine's primary serves Admin here; its guardians on adminPort+1, +2, ... */
  adminPort: number;
  /** The machine's replicator serves Replication here (default: port + 100). */
  peerPort: number;
  /** The machine's primary serves Prometheus /metrics here (default: port + 200), on `metrics.host`. */
  metricsPort: number;
}

export interface ClusterConfig {
  /** Absolute path of the file this came from. */
  file: string;
  machines: Record<string, MachineConfig>;
  /** Absolute data root; each machine keeps data/<machine>/. */
  dataDir: string;
  workers: number;
  /** The master machine: its primary is the master, which watches every machine's children (`fbs status` calls the others' primaries supervisors). */
  master: string;
  /** Guardians per machine (called replicas on the master machine). */
  guardians: number;
  /** The master machine keeps a warm standby primary, its workers forked ahead, to take over at once when the master dies (default true). */
  standby: boolean;
  /**
   * The cluster secret every internal RPC carries: the file `secretFile` when it
   * exists (`fbs init` writes it), else the config's "secret". Read on first use, so
   * a client (fbc), which never needs it, never reads a file only servers may read.
   */
  readonly secret: string;
  secretFile: string;
  /** Every port speaks TLS (default); false, plaintext, is allowed on loopback only. */
  tls: boolean;
  /** Absolute; `fbs init` writes the CA, the machines' certificates and the secret here (default: tls/ beside the config). */
  tlsDir: string;
  /** A peer whose clock is further off than this is reported (ordering never depends on it). */
  maxClockOffsetMs: number;
  /** Where each machine serves /metrics: loopback and plain HTTP by default (as etcd's --listen-metrics-urls); tls: its machine certificate. */
  metrics: { host: string; tls: boolean };
  timing: {
    heartbeatMs: number;
    suspectAfterMs: number;
    deadAfterMs: number;
    electionTimeoutMs: number;
    /** A guardian's allowance for a primary it has not yet heard (it is still starting). */
    startupGraceMs: number;
  };
  limits: {
    maxPostChars: number;
    /**
     * How far a client's causal timestamp (`after`) may lead this machine's clock. A
     * real one is a time some machine stamped: it leads by that machine's clock error
     * (the chaos run puts machines 3 h behind and 10 min ahead; a clock set in the wrong
     * time zone is up to 14 h off). Past a day it is hostile or broken, and taking it
     * would drag every clock of the cluster that far ahead.
     */
    maxCausalLeadMs: number;
    maxMessageBytes: number;
    historySize: number;
    /** Rooms a user may follow besides its own: bounds what Timeline and Poll merge. */
    maxFollows: number;
    /** Chat streams one user may hold open on one worker. */
    maxStreamsPerUser: number;
    /** Concurrent calls on one connection (HTTP/2 max_concurrent_streams). */
    maxStreamsPerConnection: number;
    /** Bytes queued for a slow reader before its stream is closed (it resumes from its cursor). */
    maxStreamBacklogBytes: number;
    /** A session's lifetime: Connect makes tokens this long, every machine refuses longer ones, and a chat stream ends when its session does. */
    maxSessionMs: number;
  };
  /** Token buckets, per machine (its workers share them): a burst of the figure, then the figure per period. */
  quotas: {
    newUsersPerAddressPerMinute: number;
    /** Posts, joins and leaves. */
    postsPerUserPerSecond: number;
    /** Calls of any kind from one client address, over all its connections. */
    requestsPerAddressPerSecond: number;
    /** Bytes of room-file lines a user may write (posts, joins, leaves); past it its writes are refused. Not a rate. */
    storageBytesPerUser: number;
  };
  storage: {
    lockStaleMs: number;
    /** Rooms whose recent posts each process keeps in memory (LRU). */
    cachedRooms: number;
    /** Posts kept per cached room: the most a Timeline returns. */
    tailPosts: number;
    /** Bytes of a write-ahead log segment. */
    walSegmentBytes: number;
    /** A checkpoint is written at most this long after the first event it does not cover. */
    checkpointAfterMs: number;
  };
}

export const DEFAULT_CONFIG_FILE = join(REPO_ROOT, 'cluster.json');

export class ConfigError extends Error {}

export function loadConfig(file = DEFAULT_CONFIG_FILE): ClusterConfig {
  const path = resolve(file);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read config ${path}: ${(err as Error).message}`);
  }
  return parseConfig(raw, path);
}

export function parseConfig(raw: unknown, path: string): ClusterConfig {
  const r = new ConfigReader(path);
  if (typeof raw !== 'object' || raw === null) r.bad('not a JSON object');
  const o = raw as Record<string, any>;
  const machines = parseMachines(o.machines, r);
  const jsonSecret = o.secret === undefined ? '' : typeof o.secret === 'string' ? o.secret : r.bad('"secret" must be a string');
  if (o.tls !== undefined && typeof o.tls !== 'boolean') r.bad('"tls" must be true or false');
  if (o.standby !== undefined && typeof o.standby !== 'boolean') r.bad('"standby" must be true or false');
  const tlsDir = resolve(dirname(path), typeof o.tlsDir === 'string' ? o.tlsDir : 'tls');
  const secretFile = join(tlsDir, 'secret');
  let secret: string | undefined;
  return {
    file: path,
    machines,
    dataDir: resolve(dirname(path), typeof o.dataDir === 'string' ? o.dataDir : 'data'),
    workers: r.num(o.workers, 2, 'workers', 1, MAX_WRITER_SLOTS),
    master: typeof o.master === 'string' ? (machines[o.master] ? o.master : r.bad(`"master" names no machine`)) : Object.keys(machines)[0],
    guardians: r.num(o.guardians, 2, 'guardians'),
    standby: o.standby ?? true,
    timing: parseTiming(o.timing, r),
    get secret() {
      return (secret ??= readSecret(secretFile, jsonSecret));
    },
    secretFile,
    tls: o.tls ?? true,
    tlsDir,
    maxClockOffsetMs: r.num(o.maxClockOffsetMs, 500, 'maxClockOffsetMs'),
    metrics: parseMetrics(o.metrics, r),
    limits: parseLimits(o.limits, r),
    quotas: parseQuotas(o.quotas, r),
    storage: parseStorage(o.storage, r),
  };
}

/** Checks the keys of one config file: `bad` throws the one error, naming the file. */
class ConfigReader {
  constructor(private readonly path: string) {}

  bad(what: string): never {
    throw new ConfigError(`config ${this.path}: ${what}`);
  }

  /** An integer key of at least `min` (and at most `max`); `dflt` when absent. */
  num(v: unknown, dflt: number, key: string, min = 1, max = Infinity): number {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) this.bad(`"${key}" must be an integer >= ${min}`);
    if ((v as number) > max) this.bad(`"${key}" must be at most ${max}`);
    return v as number;
  }

  /** `num` for the keys of one section, each named once: `section.key` in messages. */
  section(name: string, raw: Record<string, unknown> | undefined): (key: string, dflt: number, min?: number) => number {
    return (key, dflt, min) => this.num(raw?.[key], dflt, `${name}.${key}`, min);
  }
}

function parseMachines(raw: unknown, r: ConfigReader): Record<string, MachineConfig> {
  if (typeof raw !== 'object' || raw === null || Object.keys(raw).length === 0) {
    r.bad('"machines" must name at least one machine');
  }
  if (Object.keys(raw).length > MAX_MACHINES) r.bad(`"machines" names ${Object.keys(raw).length} machines, at most ${MAX_MACHINES}`);
  const machines: Record<string, MachineConfig> = {};
  for (const [id, m] of Object.entries(raw as Record<string, any>)) {
    if (!/^[a-z0-9][a-z0-9_-]{0,15}$/.test(id)) r.bad(`machine id "${id}" must be 1-16 of [a-z0-9_-]`);
    if (typeof m?.host !== 'string' || m.host === '') r.bad(`machines.${id}.host must be a host name or address`);
    if (!isPort(m.port)) r.bad(`machines.${id}.port must be a port number`);
    if (!isPort(m.adminPort)) r.bad(`machines.${id}.adminPort must be a port number`);
    const peerPort = m.peerPort ?? m.port + 100;
    if (!isPort(peerPort) || peerPort === m.port) r.bad(`machines.${id}.peerPort must be a port number other than its port`);
    const metricsPort = m.metricsPort ?? m.port + 200;
    if (!isPort(metricsPort) || metricsPort === m.port || metricsPort === peerPort) r.bad(`machines.${id}.metricsPort must be a port number other than its port and peerPort`);
    machines[id] = { host: m.host, port: m.port, adminPort: m.adminPort, peerPort, metricsPort };
  }
  return machines;
}

function parseMetrics(m: Record<string, unknown> | undefined, r: ConfigReader): ClusterConfig['metrics'] {
  if (m !== undefined && (typeof m !== 'object' || m === null)) r.bad('"metrics" must be an object');
  if (m?.host !== undefined && (typeof m.host !== 'string' || m.host === '')) r.bad('metrics.host must be a host name or address');
  if (m?.tls !== undefined && typeof m.tls !== 'boolean') r.bad('metrics.tls must be true or false');
  return { host: (m?.host as string | undefined) ?? '127.0.0.1', tls: (m?.tls as boolean | undefined) ?? false };
}

function parseTiming(t: Record<string, unknown> | undefined, r: ConfigReader): ClusterConfig['timing'] {
  const num = r.section('timing', t);
  return {
    heartbeatMs: num('heartbeatMs', 200, 10),
    suspectAfterMs: num('suspectAfterMs', 600, 10),
    deadAfterMs: num('deadAfterMs', 1000, 10),
    electionTimeoutMs: num('electionTimeoutMs', 1000, 10),
    startupGraceMs: num('startupGraceMs', 1500, 0),
  };
}

function parseLimits(l: Record<string, unknown> | undefined, r: ConfigReader): ClusterConfig['limits'] {
  const num = r.section('limits', l);
  return {
    maxPostChars: num('maxPostChars', 1000),
    maxCausalLeadMs: num('maxCausalLeadMs', 24 * 3600 * 1000),
    maxMessageBytes: num('maxMessageBytes', 64 * 1024, 1024),
    historySize: num('historySize', 20),
    maxFollows: num('maxFollows', 1000),
    maxStreamsPerUser: num('maxStreamsPerUser', 10),
    maxStreamsPerConnection: num('maxStreamsPerConnection', 100),
    maxStreamBacklogBytes: num('maxStreamBacklogBytes', 1 << 20, 64 * 1024),
    maxSessionMs: num('maxSessionMs', 3_600_000, 1000),
  };
}

function parseQuotas(q: Record<string, unknown> | undefined, r: ConfigReader): ClusterConfig['quotas'] {
  const num = r.section('quotas', q);
  return {
    newUsersPerAddressPerMinute: num('newUsersPerAddressPerMinute', 100),
    postsPerUserPerSecond: num('postsPerUserPerSecond', 20),
    requestsPerAddressPerSecond: num('requestsPerAddressPerSecond', 500),
    storageBytesPerUser: num('storageBytesPerUser', 100 * 1024 * 1024),
  };
}

function parseStorage(st: Record<string, unknown> | undefined, r: ConfigReader): ClusterConfig['storage'] {
  const num = r.section('storage', st);
  return {
    lockStaleMs: num('lockStaleMs', 2000, 2000),
    cachedRooms: num('cachedRooms', ROOM_CACHE_DEFAULTS.cachedRooms),
    tailPosts: num('tailPosts', ROOM_CACHE_DEFAULTS.tailPosts),
    walSegmentBytes: num('walSegmentBytes', LOG_DEFAULTS.walSegmentBytes, 4096),
    checkpointAfterMs: num('checkpointAfterMs', LOG_DEFAULTS.checkpointAfterMs, 1000),
  };
}

function readSecret(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw new ConfigError(`cannot read the cluster secret ${file}: ${(err as Error).message}`);
  }
}

function isPort(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 65536;
}

export function adminAddress(config: ClusterConfig, machine: string, guardian?: number): string {
  const m = config.machines[machine];
  return `${m.host}:${m.adminPort + (guardian === undefined ? 0 : guardian + 1)}`;
}

export function peerAddress(config: ClusterConfig, machine: string): string {
  const m = config.machines[machine];
  return `${m.host}:${m.peerPort}`;
}

/** Client addresses in config order, e.g. ["127.0.0.1:50051", ...]. */
/** Where a Prometheus server scrapes `machine` (what `fbs status --json` gives as its metricsUrl). */
export function metricsUrl(config: ClusterConfig, machine: string): string {
  const host = config.metrics.host.includes(':') ? `[${config.metrics.host}]` : config.metrics.host;
  return `${config.metrics.tls ? 'https' : 'http'}://${host}:${config.machines[machine].metricsPort}/metrics`;
}

export function clientAddresses(config: ClusterConfig): string[] {
  return Object.values(config.machines).map((m) => `${m.host}:${m.port}`);
}
