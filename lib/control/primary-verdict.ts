/**
 * A guardian's own sight of its machine's primary, turned into a verdict: heard,
 * or died. The guardian holds a Watch stream open to the primary; each answer on
 * it says the primary lives (and its term). When the stream breaks, the record is
 * read at once: a clean stop on record (pid 0) ends the guardian; no record means
 * the primary died; otherwise the recorded pid gets `exitGraceMs` to be seen dead
 * (a killed process's sockets close a moment before kill(0) sees it gone), and it
 * died only if the record still names it then (no successor has taken over). When a
 * warm standby stood by as the stream broke, it gets `standbyTakeOverMs` from the
 * break to take charge: only a record that still names the dead pid after that is a
 * death (the standby's takeover needs no election). Beat
 * file changes count as heard; a primary silent past the failure timeout is the
 * reviver's call (its failure detector), not this one's. A broken stream is opened
 * again on the next tick.
 *
 * Pure: no I/O, no timers. Fed `(input, now)`; returns actions for the shell.
 */
import type { Supervisor, Tick } from './supervisor';

export type VerdictInput =
  /** The primary answered on the Watch stream: pid 0 says it is stopping the machine. */
  | { kind: 'answer'; pid: number; term: number }
  /** The primary's beat file changed. */
  | { kind: 'beat' }
  /** The Watch stream broke; `recordPid` is the record's pid as read now (null: no record); `standby`: a standby of the machine stands by. */
  | { kind: 'broken'; recordPid: number | null; standby?: boolean }
  /** Whether `pid` was seen dead within the grace; `recordPid` is the record's pid as read then. */
  | { kind: 'pidChecked'; pid: number; gone: boolean; recordPid: number | null }
  | Tick;

export type VerdictAction =
  | { heard: { term?: number } }
  | { died: Record<string, never> }
  /** Report `pidChecked` once `pid` is dead, or after `withinMs` if it still lives. */
  | { checkPid: { pid: number; withinMs: number } }
  | { openWatch: Record<string, never> }
  /** The machine is stopping or was stopped cleanly: the guardian exits. */
  | { exit: { reason: string } };

export class PrimaryVerdict implements Supervisor<VerdictInput, VerdictAction> {
  private watching = false;
  /** The primary's term as it last said. */
  term = 0;
  /** A standby stood by when the stream broke: it has until then to take charge. */
  private standbyUntil = -Infinity;
  /** The dead recorded primary whose successor we wait for (a standby's). */
  private awaiting: number | null = null;

  constructor(private readonly exitGraceMs: number, private readonly standbyTakeOverMs = 0) {}

  step(input: VerdictInput, now: number): VerdictAction[] {
    switch (input.kind) {
      case 'answer':
        if (input.pid === 0) return [{ exit: { reason: 'the primary is stopping the machine' } }];
        this.awaiting = null;
        this.term = input.term;
        return [{ heard: { term: input.term } }];
      case 'beat':
        return [{ heard: {} }];
      case 'broken':
        this.watching = false;
        this.standbyUntil = input.standby ? now + this.standbyTakeOverMs : -Infinity;
        if (input.recordPid === 0) return [{ exit: { reason: 'the machine was stopped cleanly' } }];
        if (input.recordPid === null) return [{ died: {} }];
        return [{ checkPid: { pid: input.recordPid, withinMs: this.exitGraceMs } }];
      case 'pidChecked':
        // Still the recorded primary: no successor yet (a standby's may be on its way).
        if (!input.gone || input.recordPid !== input.pid) return [];
        if (now < this.standbyUntil) {
          this.awaiting = input.pid;
          return [];
        }
        return [{ died: {} }];
      case 'tick':
        return [...this.lookAgain(now), ...(this.watching ? [] : this.openWatch())];
    }
  }

  /** The standby's time is up: read the record once more (a pid already dead is reported at once). */
  private lookAgain(now: number): VerdictAction[] {
    if (this.awaiting === null || now < this.standbyUntil) return [];
    const pid = this.awaiting;
    this.awaiting = null;
    return [{ checkPid: { pid, withinMs: 0 } }];
  }

  private openWatch(): VerdictAction[] {
    this.watching = true;
    return [{ openWatch: {} }];
  }
}
