/**
 * A machine primary's decisions about its children (the workers, one per slot, and
 * the replicator): when to fork one, whom to ping, when a child is not answering,
 * when to kill a hung one, forking the replicator only once a worker serves, how long to back off a crash loop, when to break the
 * room lock of a dead writer, and what to do when the master asks for a revival.
 *
 * Each slot's child, its liveness and its restarts are child-slots.ts's; when a
 * silent child is ours to kill, hang-judge.ts's.
 *
 * Pure: no I/O, no timers. Fed `(input, now)` from one monotonic clock through
 * step(); returns actions for the primary's I/O (lib/server/forked-children.ts) to
 * perform (the shape of every supervisor here: lib/control/supervisor.ts).
 */
import { EXIT_REBUILD_INDEX } from '../common/exit-codes';
import { ChildSlots } from './child-slots';
import { HangJudge } from './hang-judge';
import type { Supervisor, Tick } from './supervisor';
import { CHILD_PING_MS as PING_MS, REPLICATOR_WAITS_MS } from './timing-policy';

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


/** A revival that did nothing ("none: ...") is routine; one that killed or forked a child is news. */
export function answerLevel(answer: string): 'info' | 'warn' {
  return answer.startsWith('none') ? 'info' : 'warn';
}

export function childSpecs(workers: number): ChildSpec[] {
  const specs = Array.from({ length: workers }, (_, slot) => ({ key: `worker:${slot}`, role: 'worker' as const, slot }));
  return [...specs, { key: 'replicator', role: 'replicator', slot: 0 }];
}

export class ChildSupervisor implements Supervisor<ChildInput, ChildAction> {
  readonly specs: readonly ChildSpec[];
  /** How often a tick is to be fed. */
  readonly pingEveryMs: number;
  private readonly slots: ChildSlots;
  private readonly judge: HangJudge;
  private stopping = false;
  /** The replicator's first fork waits for a worker serving until this (see REPLICATOR_WAITS_MS); null: not waiting. */
  private replicatorWaitsUntil: number | null = null;

  constructor(options: { workers: number; heartbeatMs: number; deadAfterMs: number }) {
    this.specs = childSpecs(options.workers);
    this.pingEveryMs = Math.max(options.heartbeatMs, PING_MS);
    this.slots = new ChildSlots(this.specs, options.deadAfterMs);
    this.judge = new HangJudge(options.deadAfterMs, this.pingEveryMs);
  }

  step(input: ChildInput, now: number): ChildAction[] {
    switch (input.kind) {
      case 'start':
        this.replicatorWaitsUntil = now + REPLICATOR_WAITS_MS;
        return [{ breakLock: {} }, ...this.specs.filter((s) => s.role !== 'replicator').map((s) => ({ fork: { key: s.key, delayMs: 0 } }))];
      case 'forked':
        this.slots.forked(input.key, input.pid, now);
        return [];
      case 'pong':
        return this.slots.answered(input.key, input.pid, input.loading, now) ? [{ serving: { key: input.key } }, ...this.replicatorDue(true, now)] : [];
      case 'exited':
        return this.exited(input, now);
      case 'due':
        return this.forkDue(input.key) ? [{ fork: { key: input.key, delayMs: 0 } }] : [];
      case 'masterSeen':
        this.judge.masterSeen(now);
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

  /** The replicator's first fork, once a worker serves or the wait is over. */
  private replicatorDue(workerServes: boolean, now: number): ChildAction[] {
    if (this.replicatorWaitsUntil === null || (!workerServes && now < this.replicatorWaitsUntil)) return [];
    this.replicatorWaitsUntil = null;
    return this.forkDue('replicator') ? [{ fork: { key: 'replicator', delayMs: 0 } }] : [];
  }

  /** Whether a fork that was due for `key` should happen now (a delayed one finds its slot filled when the master had it forked). */
  private forkDue(key: string): boolean {
    return !this.stopping && !this.slots.child(key) && this.specs.some((s) => s.key === key);
  }

  private exited({ key, pid, code, signal }: Extract<ChildInput, { kind: 'exited' }>, now: number): ChildAction[] {
    const child = this.slots.exited(key, pid);
    const out: ChildAction[] = [{ breakLock: { pid } }];
    if (this.stopping) return out;
    if (code === EXIT_REBUILD_INDEX) {
      for (const [other] of this.slots.children()) this.slots.signalled(other);
      out.push({ restartOthers: { key } });
    }
    const { restarts, delayMs } = this.slots.restart(key, child, now);
    out.unshift({ died: { ...this.specOf(key), pid, code, signal: signal ?? null, restarts, delayMs } });
    out.push({ fork: { key, delayMs } });
    return out;
  }

  /** Every PING_MS: ping every child, kill the ones silent past our limit, break a dead holder's lock. */
  private tick(now: number): ChildAction[] {
    this.judge.tick(now);
    const own = this.judge.killAfterMs(now);
    const out: ChildAction[] = [{ breakLock: {} }, ...this.replicatorDue(false, now)];
    for (const [key, r] of this.slots.children()) {
      out.push({ ping: { key } });
      const silentMs = this.slots.silentMs(key, now);
      if (this.judge.mayJudge(now) && !r.killed && this.slots.notAnswering(key, now) && silentMs > own) {
        this.slots.signalled(key);
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
    this.judge.masterSeen(now);
    const spec = this.specs.find((c) => c.role === role && c.slot === slot);
    if (!spec) return [{ answer: `none: no ${role} ${slot} here` }];
    if (this.stopping) return [{ answer: 'none: stopping' }];
    const r = this.slots.child(spec.key);
    if (!r) return [{ answer: 'forked' }, { fork: { key: spec.key, delayMs: 0 } }];
    if (r.pid !== pid) return [{ answer: 'none: already replaced' }];
    if (r.killed) return [{ answer: 'none: already killed' }];
    if (!this.judge.mayJudge(now)) return [{ answer: 'none: this primary was paused; its children answer again first' }];
    if (!this.slots.notAnswering(spec.key, now)) return [{ answer: 'none: it answers' }];
    this.slots.signalled(spec.key);
    return [{ answer: 'killed' }, { kill: { key: spec.key, pid, silentMs: this.slots.silentMs(spec.key, now), asked: true } }];
  }

  view(now: number): ChildView[] {
    return this.slots.view(now);
  }

  specOf(key: string): ChildSpec {
    return this.slots.specOf(key);
  }
}
