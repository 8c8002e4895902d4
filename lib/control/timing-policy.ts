/**
 * Every timing value of supervision, takeover and fencing, derived in one place
 * from cluster.json's `timing` (lib/common/config.ts). The state machines of this
 * folder take their slice of it; shells take their intervals from it. Nothing
 * else in lib/ picks a supervision delay of its own.
 */
import type { ClusterConfig } from '../common/config';

export type ClusterTiming = ClusterConfig['timing'];

export interface TimingPolicy extends ClusterTiming {
  /**
   * Guardians beat to their primary this often. A killed guardian is seen at once
   * (its stream breaks, its pid is dead), so its beats only catch a hung one: they
   * can be slow. The primary's own beats stay fast (every heartbeatMs), since the
   * guardians must notice a paused primary within the failure timeout.
   */
  guardianBeatMs: number;
  /** How long after its stream broke a process's pid may take to be seen dead (it is still exiting). */
  exitGraceMs: number;
  /** How long a freshly spawned guardian may take to beat before it is spawned again. */
  guardianSpawnGraceMs: number;
  /** A stopping primary SIGKILLs its own guardians that outlive SIGTERM by this long. */
  guardianStopGraceMs: number;
  /** A slot with no guardian this long after a primary's start gets one (one alive from before connects within a beat or two). */
  guardianFirstConnectMs: number;
  /** A guardian's failure detector for its siblings, as its primary sees them. */
  guardianSilence: { heartbeatMs: number; suspectAfterMs: number; deadAfterMs: number };
  /** How long a primary we (or the ring's leader) started may take to answer before the guardians act again. */
  reviveGraceMs: number;
  /** A ring message not delivered within this is taken as failed. */
  ringSendMs: number;
  /** At most one "election decided" log line this often (forged announcements must not flood it). */
  decidedLogMs: number;
  /** A standing-by start asks the running primary this often, and waits this long for the answer. */
  standByEveryMs: number;
  standByAnswerMs: number;
  /** A recorded primary that shows no life for this long is fenced (killed); how often the start looks for that life. */
  fenceSilenceMs: number;
  fenceLookEveryMs: number;
  /** How long a fenced primary may take to be seen dead. */
  fenceKillWaitMs: number;
  /**
   * A primary looks for its machine's warm standby this often, and spawns one when none lives (standby-slot.ts);
   * a standby forks its workers ahead after standing by this long (takeover.ts); a guardian that sees the
   * primary die beside a standby gives it this long to take charge before its own verdict (primary-verdict.ts).
   */
  standby: { lookEveryMs: number; healthyAfterMs: number; maxRespawnMs: number; warmAfterMs: number; takeOverMs: number };
  /** A start on a full disk tries again this often. */
  diskRetryMs: number;
  /** The master polls each other machine's primary about its children this often; a poll unanswered by the next is a silent primary. */
  remotePollMs: number;
  /** A remote child silent this long is asked for. */
  remoteHungAfterMs: number;
  /** A remote child slot missing from the reports this long (a re-fork's back-off) is asked for. */
  remoteMissingAfterMs: number;
  /** A remote report older than this is not judged. */
  remoteReportFreshMs: number;
  /** The same lost remote child is asked for again after this. */
  remoteAskAgainMs: number;
}

const GUARDIAN_BEAT_MS = 1_000;

export function timingPolicy(timing: ClusterTiming): TimingPolicy {
  const { heartbeatMs, suspectAfterMs, deadAfterMs } = timing;
  return {
    ...timing,
    guardianBeatMs: GUARDIAN_BEAT_MS,
    exitGraceMs: 500,
    guardianSpawnGraceMs: 5_000,
    guardianStopGraceMs: 10_000,
    guardianFirstConnectMs: 3 * heartbeatMs,
    guardianSilence: {
      heartbeatMs: GUARDIAN_BEAT_MS,
      suspectAfterMs: Math.max(suspectAfterMs, 2 * GUARDIAN_BEAT_MS),
      deadAfterMs: Math.max(deadAfterMs, 3 * GUARDIAN_BEAT_MS),
    },
    reviveGraceMs: 5_000,
    ringSendMs: 2 * heartbeatMs,
    decidedLogMs: 1_000,
    standByEveryMs: heartbeatMs,
    standByAnswerMs: 2 * heartbeatMs,
    // A 300 ms probe killed healthy primaries that a loaded host kept from answering in
    // time, and every start after them did the same: the whole failure timeout it is.
    fenceSilenceMs: deadAfterMs,
    fenceLookEveryMs: Math.max(1, Math.floor(heartbeatMs / 4)),
    fenceKillWaitMs: 5_000,
    diskRetryMs: 1_000,
    standby: {
      lookEveryMs: 2 * GUARDIAN_BEAT_MS,
      healthyAfterMs: 10 * GUARDIAN_BEAT_MS,
      maxRespawnMs: 60 * GUARDIAN_BEAT_MS,
      warmAfterMs: 3 * GUARDIAN_BEAT_MS,
      takeOverMs: deadAfterMs,
    },
    remotePollMs: GUARDIAN_BEAT_MS,
    remoteHungAfterMs: notAnsweringAfterMs(deadAfterMs),
    remoteMissingAfterMs: deadAfterMs,
    remoteReportFreshMs: 2 * GUARDIAN_BEAT_MS,
    remoteAskAgainMs: 5 * GUARDIAN_BEAT_MS,
  };
}

/** A machine primary pings its children this often: a dead child is seen at once by its exit, so pings only catch a hung one. */
export const CHILD_PING_MS = 1_000;

/** A child silent this long has missed a ping and the failure timeout: it is not answering. */
export function notAnsweringAfterMs(deadAfterMs: number): number {
  return deadAfterMs + CHILD_PING_MS;
}

/**
 * A child that has not yet served is loading: it answers pings between slices of
 * its load, but a host at a load average of 20 can leave it unscheduled for
 * seconds, and killing it only starts the load again. It gets this long.
 */
export const STARTUP_ALLOWANCE_MS = 30_000;

/**
 * While the master has asked about our children within this (3 of its 1 s polls), it
 * decides when a hung child dies and our own kill limit grows, so the two do not
 * race; without it we decide.
 */
export const MASTER_WATCH_MS = 3_000;

/**
 * At a primary's start the other workers and the replicator are forked once the first
 * worker serves, so its module load and journal load, which the users wait for, get
 * the CPU first (bench/master-kill.ts); they wait at most this long for that.
 */
export const REPLICATOR_WAITS_MS = 10_000;

/** Children that keep dying sooner than this after their start are crash-looping: re-fork them with back-off. */
export const HEALTHY_AFTER_MS = 5_000;

/** A crash loop's re-forks wait at most this long. */
export const MAX_REFORK_DELAY_MS = 3_000;
