/**
 * A machine primary's decisions about its children (the workers, one per slot, and
 * the replicator): when to fork one, whom to ping, when a child is not answering,
 * when to kill a hung one, forking the first worker alone and the others and the replicator only once a worker serves, how long to back off a crash loop, when to break the
 * room lock of a dead writer, and what to do when the master asks for a revival.
 *
 * Liveness sits on the FailureDetector: a child is heard when it answers a ping; a
 * child that has not served yet (it is loading, and answers "loading") keeps its
 * startup allowance. A child is not answering (`dead`) once silent past the failure
 * timeout plus a ping, or past STARTUP_ALLOWANCE_MS before it first served: then the
 * master may have it killed. We kill it ourselves only after a longer silence,
 * and a much longer one while the master watches us, so the two never race.
 *
 * Pure: no I/O, no timers. Fed `(input, now)` from one monotonic clock through
 * step(); returns actions for the primary's I/O (lib/server/forked-children.ts) to
 * perform (the shape of every supervisor here: lib/control/supervisor.ts).
 */
import { EXIT_REBUILD_INDEX } from '../common/exit-codes';
import { backoffMs, crashBackoff } from '../core/backoff';
import { FailureDetector } from './failure-detector';
import type { Supervisor, Tick } from './supervisor';
import { CHILD_PING_MS as PING_MS, HEALTHY_AFTER_MS, MASTER_WATCH_MS, MAX_REFORK_DELAY_MS, notAnsweringAfterMs, REPLICATOR_WAITS_MS, STARTUP_ALLOWANCE_MS } from './timing-policy';

export type ChildRole = 'worker' | 'replicator';

export interface ChildSpec {
  key: string; // e.g. "worker:0"
  role: ChildRole;
  slot: number;
}

export interface ChildView {
  role: ChildRole;
  slot: number;
  pid: number;
  restarts: number;
  /** ms since the child last answered a ping (-1 before its first answer). */
  heartbeatAgeMs: number;
  state: 'up' | 'starting';
}

export type ChildInput =
  /** The primary starts: break a lock the last tree's writers left, and fork the workers (the replicator once one serves). */
  | { kind: 'start' }
  | { kind: 'forked'; key: string; pid: number }
  /** The child answered a ping; `loading` while it does not serve yet. */
  | { kind: 'pong'; key: string; pid: number; loading: boolean }
  /** `signal`: the one that ended it, if any (for the log line of its death). */
  | { kind: 'exited'; key: string; pid: number; code: number | null; signal?: string | null }
  /** A delayed fork's time has come. */
  | { kind: 'due'; key: string }
  /** The master polled us: while it watches, hung children are its call. */
  | { kind: 'masterSeen' }
  /** The master asks for the child of (role, slot) it believes lost as `pid` (0: the slot has none). */
  | { kind: 'reviveAsked'; role: string; slot: number; pid: number }
  /** From now on nothing is forked and deaths are not restarts. */
  | { kind: 'stop' }
  /** Every pingEveryMs. */
  | Tick;

export type ChildAction =
  /** Fork the child of `key` now (`delayMs` 0), or feed `due` after `delayMs`. */
  | { fork: { key: string; delayMs: number } }
  /** A child died and is re-forked after `delayMs`: one more restart of its slot (`restarts` in all). */
  | { died: ChildSpec & { pid: number; code: number | null; signal: string | null; restarts: number; delayMs: number } }
  /** What a revival request did, in one line (the answer to the master). */
  | { answer: string }
  | { ping: { key: string } }
  /** SIGKILL it: silent past our own limit, or the master asked (`asked`: it logs the request). */
  | { kill: { key: string; pid: number; silentMs: number; asked: boolean } }
  /** Break the room lock if its holder is dead (`pid`: only if that one holds it). */
  | { breakLock: { pid?: number } }
  /** A child dropped the machine's index: stop the others (SIGTERM) so they load again. */
  | { restartOthers: { key: string } }
  /** The child of `key` serves now: tell it who is in chat mode on the others. */
  | { serving: { key: string } };


/** Our own kill limit for a silent child: three failure timeouts, ten while the master watches. */
function ownKillAfterMs(deadAfterMs: number, watched: boolean): number {
  return deadAfterMs * (watched ? 10 : 3);
}

/** A revival that did nothing ("none: ...") is routine; one that killed or forked a child is news. */
export function answerLevel(answer: string): 'info' | 'warn' {
  return answer.startsWith('none') ? 'info' : 'warn';
}

export function childSpecs(workers: number): ChildSpec[] {
  const specs = Array.from({ length: workers }, (_, slot) => ({ key: `worker:${slot}`, role: 'worker' as const, slot }));
  return [...specs, { key: 'replicator', role: 'replicator', slot: 0 }];
}

interface Running {
  pid: number;
  startedAt: number;
  answered: boolean;
  /** We had it signalled (killed as hung, or stopped to reload): a revival request finds it going. */
  killed: boolean;
}

export class ChildSupervisor implements Supervisor<ChildInput, ChildAction> {
  readonly specs: readonly ChildSpec[];
  private readonly detector: FailureDetector;
  private readonly running = new Map<string, Running>();
  private readonly restarts = new Map<string, number>();
  private readonly quickDeaths = new Map<string, number>();
  private masterSeenAt = -Infinity;
  private lastTick: number | undefined;
  /** No child is judged silent before this: we were paused, and their answers are still to come. */
  private judgeFrom = -Infinity;
  private stopping = false;
  /** The first forks of all but the first worker wait for a worker serving until this (see REPLICATOR_WAITS_MS); null: not waiting. */
  private othersWaitUntil: number | null = null;
  private readonly deadAfterMs: number;
  /** How often tick() is to be called. */
  readonly pingEveryMs: number;

  constructor(options: { workers: number; heartbeatMs: number; deadAfterMs: number }) {
    this.specs = childSpecs(options.workers);
    this.deadAfterMs = options.deadAfterMs;
    this.pingEveryMs = Math.max(options.heartbeatMs, PING_MS);
    const dead = notAnsweringAfterMs(options.deadAfterMs);
    this.detector = new FailureDetector({
      heartbeatMs: PING_MS,
      suspectAfterMs: PING_MS + options.deadAfterMs / 2, // (unused: a child is answering or not)
      deadAfterMs: dead,
      startupGraceMs: Math.max(0, STARTUP_ALLOWANCE_MS - dead),
    });
  }

  step(input: ChildInput, now: number): ChildAction[] {
    switch (input.kind) {
      case 'start':
        return this.start(now);
      case 'forked':
        this.forked(input.key, input.pid, now);
        return [];
      case 'pong':
        return this.pong(input.key, input.pid, input.loading, now);
      case 'exited':
        return this.exited(input, now);
      case 'due':
        return this.forkDue(input.key) ? [{ fork: { key: input.key, delayMs: 0 } }] : [];
      case 'masterSeen':
        this.masterSeenAt = now;
        return [];
      case 'reviveAsked':
        return this.revive(input.role, input.slot, input.pid, now);
      case 'stop':
        this.stopping = true;
        return [];
      case 'tick':
        return this.tick(now);
    }
  }

  /**
   * The first worker alone: the users wait for one serving worker, and our children share
   * the CPU our process group gets (one autogroup on Linux, however loaded the host).
   */
  private start(now: number): ChildAction[] {
    this.othersWaitUntil = now + REPLICATOR_WAITS_MS;
    return [{ breakLock: {} }, { fork: { key: this.specs[0].key, delayMs: 0 } }];
  }

  /** The other workers' and the replicator's first forks, once a worker serves or the wait is over. */
  private othersDue(workerServes: boolean, now: number): ChildAction[] {
    if (this.othersWaitUntil === null || (!workerServes && now < this.othersWaitUntil)) return [];
    this.othersWaitUntil = null;
    return this.specs.filter((s) => this.forkDue(s.key)).map((s) => ({ fork: { key: s.key, delayMs: 0 } }));
  }

  /** Whether a fork that was due for `key` should happen now (a delayed one finds its slot filled when the master had it forked). */
  private forkDue(key: string): boolean {
    return !this.stopping && !this.running.has(key) && this.specs.some((s) => s.key === key);
  }

  private forked(key: string, pid: number, now: number): void {
    this.running.set(key, { pid, startedAt: now, answered: false, killed: false });
    this.detector.add(key, now);
  }

  private pong(key: string, pid: number, loading: boolean, now: number): ChildAction[] {
    const r = this.running.get(key);
    if (!r || r.pid !== pid) return [];
    const servedBefore = this.detector.started(key);
    r.answered = true;
    this.detector.heartbeat(key, now, !loading);
    return !servedBefore && !loading ? [{ serving: { key } }, ...this.othersDue(true, now)] : [];
  }

  private exited({ key, pid, code, signal }: Extract<ChildInput, { kind: 'exited' }>, now: number): ChildAction[] {
    const r = this.running.get(key);
    if (r?.pid === pid) this.running.delete(key);
    const out: ChildAction[] = [{ breakLock: { pid } }];
    if (this.stopping) return out;
    if (code === EXIT_REBUILD_INDEX) {
      for (const other of this.running.values()) other.killed = true;
      out.push({ restartOthers: { key } });
    }
    const restarts = this.restartsOf(key) + 1;
    this.restarts.set(key, restarts);
    const quick = r && now - r.startedAt < HEALTHY_AFTER_MS ? (this.quickDeaths.get(key) ?? 0) + 1 : 0;
    this.quickDeaths.set(key, quick);
    const delayMs = backoffMs(quick, crashBackoff(MAX_REFORK_DELAY_MS));
    out.unshift({ died: { ...this.specOf(key), pid, code, signal: signal ?? null, restarts, delayMs } });
    out.push({ fork: { key, delayMs } });
    return out;
  }

  /** Every PING_MS: ping every child, kill the ones silent past our limit, break a dead holder's lock. */
  private tick(now: number): ChildAction[] {
    // They get a round to answer the pings below before anyone is judged again.
    if (this.paused(now)) this.judgeFrom = now + this.pingEveryMs;
    this.lastTick = now;
    const own = ownKillAfterMs(this.deadAfterMs, now - this.masterSeenAt < MASTER_WATCH_MS);
    const out: ChildAction[] = [{ breakLock: {} }, ...this.othersDue(false, now)];
    for (const [key, r] of this.running) {
      out.push({ ping: { key } });
      const silentMs = this.detector.ageMs(key, now) ?? 0;
      if (now >= this.judgeFrom && !r.killed && this.notAnswering(key, now) && silentMs > own) {
        r.killed = true;
        out.push({ kill: { key, pid: r.pid, silentMs, asked: false } });
      }
    }
    return out;
  }

  /**
   * Kill the child of (role, slot) if it still runs as `pid` and does not answer, fork
   * it if the slot has no child, else nothing. `pid` only names which child is meant:
   * only our own is ever killed. The first action is the answer, in one line.
   */
  private revive(role: string, slot: number, pid: number, now: number): ChildAction[] {
    this.masterSeenAt = now;
    const spec = this.specs.find((c) => c.role === role && c.slot === slot);
    if (!spec) return [{ answer: `none: no ${role} ${slot} here` }];
    if (this.stopping) return [{ answer: 'none: stopping' }];
    const r = this.running.get(spec.key);
    if (!r) return [{ answer: 'forked' }, { fork: { key: spec.key, delayMs: 0 } }];
    if (r.pid !== pid) return [{ answer: 'none: already replaced' }];
    if (r.killed) return [{ answer: 'none: already killed' }];
    if (this.paused(now) || now < this.judgeFrom) return [{ answer: 'none: this primary was paused; its children answer again first' }];
    if (!this.notAnswering(spec.key, now)) return [{ answer: 'none: it answers' }];
    r.killed = true;
    return [{ answer: 'killed' }, { kill: { key: spec.key, pid, silentMs: this.detector.ageMs(spec.key, now) ?? 0, asked: true } }];
  }

  view(now: number): ChildView[] {
    return [...this.running].map(([key, r]) => {
      const spec = this.specOf(key);
      return {
        role: spec.role,
        slot: spec.slot,
        pid: r.pid,
        restarts: this.restartsOf(key),
        heartbeatAgeMs: r.answered ? Math.round(this.detector.ageMs(key, now) ?? 0) : -1,
        state: this.detector.started(key) ? 'up' : 'starting',
      };
    });
  }

  specOf(key: string): ChildSpec {
    return this.specs.find((s) => s.key === key)!;
  }

  restartsOf(key: string): number {
    return this.restarts.get(key) ?? 0;
  }

  /**
   * A tick far later than due means we did not run (paused, or starved): the
   * children's silence since is ours, not theirs.
   */
  private paused(now: number): boolean {
    return this.lastTick !== undefined && now - this.lastTick > 2 * this.pingEveryMs;
  }

  private notAnswering(key: string, now: number): boolean {
    return this.detector.status(key, now) === 'dead';
  }
}
