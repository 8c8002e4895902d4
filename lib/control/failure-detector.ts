/**
 * Heartbeat failure detector. A peer is `up` while it keeps reporting, `suspect`
 * once `suspectAfterMs` have passed since it was last heard, and `dead` once
 * `deadAfterMs` have passed. A newly added (or re-added, i.e. respawned) peer gets
 * `startupGraceMs` on top of both thresholds until it says it has started (its
 * first heartbeat, unless the caller says it is still starting), so a process
 * that is still booting or loading is not declared dead; any heartbeat revives a
 * suspect or dead peer at once.
 *
 * Pure: no timers and no I/O. `now` is injected on every call and must come from
 * one monotonic clock (performance.now(), not Date.now(): wall clocks jump). The
 * timing comes from the cluster config (lib/common/config.ts, `timing`).
 */

export type PeerStatus = 'up' | 'suspect' | 'dead';

export interface FailureDetectorOptions {
  /** How often peers are expected to report; thresholds must exceed it. */
  heartbeatMs: number;
  /** Silence after which a peer is suspect. */
  suspectAfterMs: number;
  /** Silence after which a peer is dead. */
  deadAfterMs: number;
  /** Extra allowance for a newly added peer until it has started. */
  startupGraceMs: number;
}

interface Peer {
  /** When it was last heard, or when it was added if never heard since. */
  since: number;
  /** It has said it started: the startup grace is over. */
  started: boolean;
  /** Declared dead from outside (its process exited), until it is heard again. */
  forcedDead: boolean;
}

export class FailureDetector {
  readonly options: Readonly<FailureDetectorOptions>;
  private readonly peers = new Map<string, Peer>();

  constructor(options: FailureDetectorOptions) {
    this.options = Object.freeze({ ...options });
    checkOptions(this.options);
  }

  /** Start watching `peer` (or restart watching a respawned one), with the startup grace. */
  add(peer: string, now: number): void {
    this.peers.set(peer, { since: now, started: false, forcedDead: false });
  }

  /**
   * `peer` reported at `now`; `started: false` says it is alive but still starting
   * (loading), so its startup grace goes on. An unknown peer is added.
   */
  heartbeat(peer: string, now: number, started = true): void {
    const p = this.peers.get(peer);
    if (!p) {
      this.peers.set(peer, { since: now, started, forcedDead: false });
      return;
    }
    p.since = Math.max(p.since, now);
    p.started ||= started;
    p.forcedDead = false;
  }

  /** Declare `peer` dead now (its process exited, its connection was refused), until it is heard again. */
  markDead(peer: string): void {
    const p = this.peers.get(peer);
    if (p) p.forcedDead = true;
  }

  /** undefined for a peer that is not watched. */
  status(peer: string, now: number): PeerStatus | undefined {
    const p = this.peers.get(peer);
    if (!p) return undefined;
    if (p.forcedDead) return 'dead';
    const silence = now - p.since - (p.started ? 0 : this.options.startupGraceMs);
    if (silence >= this.options.deadAfterMs) return 'dead';
    if (silence >= this.options.suspectAfterMs) return 'suspect';
    return 'up';
  }

  /** How long since `peer` was last heard (or added); undefined for a peer that is not watched. */
  ageMs(peer: string, now: number): number | undefined {
    const p = this.peers.get(peer);
    return p && Math.max(0, now - p.since);
  }

  /** Whether `peer` has said it started (undefined for a peer that is not watched). */
  started(peer: string): boolean | undefined {
    return this.peers.get(peer)?.started;
  }
}

function checkOptions(o: FailureDetectorOptions): void {
  const bad = (what: string): never => {
    throw new Error(`failure detector: ${what}`);
  };
  for (const key of ['heartbeatMs', 'suspectAfterMs', 'deadAfterMs'] as const) {
    if (!Number.isFinite(o[key]) || o[key] <= 0) bad(`${key} must be a positive number of ms (got ${o[key]})`);
  }
  if (!Number.isFinite(o.startupGraceMs) || o.startupGraceMs < 0) bad(`startupGraceMs must be >= 0 (got ${o.startupGraceMs})`);
  if (o.suspectAfterMs <= o.heartbeatMs) bad(`suspectAfterMs (${o.suspectAfterMs}) must exceed heartbeatMs (${o.heartbeatMs})`);
  if (o.deadAfterMs <= o.suspectAfterMs) bad(`deadAfterMs (${o.deadAfterMs}) must exceed suspectAfterMs (${o.suspectAfterMs})`);
}
