/**
 * Heartbeat failure detector. A peer is `up` while it keeps reporting, `suspect`
 * once `suspectAfterMs` have passed since it was last heard, and `dead` once
 * `deadAfterMs` have passed. A newly added (or re-added, i.e. respawned) peer gets
 * `startupGraceMs` on top of both thresholds until its first heartbeat, so a
 * process that is still booting is not declared dead; any heartbeat revives a
 * suspect or dead peer at once.
 *
 * Pure: no timers and no I/O. `now` is injected on every call and must come from
 * one monotonic clock (performance.now(), not Date.now(): wall clocks jump). An
 * event loop calls heartbeat() when a peer reports and transitions() on its own
 * timer (every heartbeatMs is plenty), acting once on each reported change.
 */

export type PeerStatus = 'up' | 'suspect' | 'dead';

export interface FailureDetectorOptions {
  /** How often peers are expected to report; thresholds must exceed it. */
  heartbeatMs: number;
  /** Silence after which a peer is suspect. */
  suspectAfterMs: number;
  /** Silence after which a peer is dead. */
  deadAfterMs: number;
  /** Extra allowance for a newly added peer before its first heartbeat. */
  startupGraceMs: number;
}

/** etcd-class timing: a missed beat or two is tolerated, a dead peer is known within a second. */
export const DEFAULT_FAILURE_DETECTOR_OPTIONS: Readonly<FailureDetectorOptions> = Object.freeze({
  heartbeatMs: 150,
  suspectAfterMs: 600,
  deadAfterMs: 1000,
  startupGraceMs: 1500,
});

export interface PeerTransition {
  peer: string;
  from: PeerStatus;
  to: PeerStatus;
  /** Time since the peer was last heard (or added), at the call that saw the change. */
  ageMs: number;
}

export interface PeerSnapshot {
  peer: string;
  status: PeerStatus;
  ageMs: number;
}

interface Peer {
  /** When it was last heard, or when it was added if never heard since. */
  since: number;
  heard: boolean;
  /** Declared dead from outside (its process exited), until it is heard again. */
  forcedDead: boolean;
  /** The status the last transitions() call reported (or assumed) for it. */
  reported: PeerStatus;
}

export class FailureDetector {
  readonly options: Readonly<FailureDetectorOptions>;
  private readonly peers = new Map<string, Peer>();

  constructor(options: Partial<FailureDetectorOptions> = {}) {
    this.options = Object.freeze({ ...DEFAULT_FAILURE_DETECTOR_OPTIONS, ...options });
    checkOptions(this.options);
  }

  /** Start watching `peer` (or restart watching a respawned one), with the startup grace. */
  add(peer: string, now: number): void {
    const reported = this.peers.get(peer)?.reported ?? 'up';
    this.peers.set(peer, { since: now, heard: false, forcedDead: false, reported });
  }

  remove(peer: string): void {
    this.peers.delete(peer);
  }

  /** `peer` reported at `now`. An unknown peer is added as up. */
  heartbeat(peer: string, now: number): void {
    const p = this.peers.get(peer);
    if (!p) {
      this.peers.set(peer, { since: now, heard: true, forcedDead: false, reported: 'up' });
      return;
    }
    p.since = Math.max(p.since, now);
    p.heard = true;
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
    return p && this.statusOf(p, now);
  }

  /** How long since `peer` was last heard (or added); undefined for a peer that is not watched. */
  ageMs(peer: string, now: number): number | undefined {
    const p = this.peers.get(peer);
    return p && Math.max(0, now - p.since);
  }

  /** Every watched peer whose status changed since the previous call, each change reported once. */
  transitions(now: number): PeerTransition[] {
    const out: PeerTransition[] = [];
    for (const [peer, p] of this.peers) {
      const status = this.statusOf(p, now);
      if (status === p.reported) continue;
      out.push({ peer, from: p.reported, to: status, ageMs: Math.max(0, now - p.since) });
      p.reported = status;
    }
    return out;
  }

  /** Every watched peer, in the order they were first added (for status displays). */
  snapshot(now: number): PeerSnapshot[] {
    return [...this.peers].map(([peer, p]) => ({ peer, status: this.statusOf(p, now), ageMs: Math.max(0, now - p.since) }));
  }

  private statusOf(p: Peer, now: number): PeerStatus {
    if (p.forcedDead) return 'dead';
    const silence = now - p.since - (p.heard ? 0 : this.options.startupGraceMs);
    if (silence >= this.options.deadAfterMs) return 'dead';
    if (silence >= this.options.suspectAfterMs) return 'suspect';
    return 'up';
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
