/**
 * A guardian's own sight of its machine's primary, turned into a verdict: heard,
 * or died. The guardian holds a Watch stream open to the primary; each answer on
 * it says the primary lives (and its term). When the stream breaks, the record is
 * read at once: a clean stop on record (pid 0) ends the guardian; no record means
 * the primary died; otherwise the recorded pid gets `exitGraceMs` to be seen dead
 * (a killed process's sockets close a moment before kill(0) sees it gone), and it
 * died only if the record still names it then (no successor has taken over). Beat
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
  /** The Watch stream broke; `recordPid` is the record's pid as read now (null: no record). */
  | { kind: 'broken'; recordPid: number | null }
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

  constructor(private readonly exitGraceMs: number) {}

  step(input: VerdictInput, _now: number): VerdictAction[] {
    switch (input.kind) {
      case 'answer':
        if (input.pid === 0) return [{ exit: { reason: 'the primary is stopping the machine' } }];
        this.term = input.term;
        return [{ heard: { term: input.term } }];
      case 'beat':
        return [{ heard: {} }];
      case 'broken':
        this.watching = false;
        if (input.recordPid === 0) return [{ exit: { reason: 'the machine was stopped cleanly' } }];
        if (input.recordPid === null) return [{ died: {} }];
        return [{ checkPid: { pid: input.recordPid, withinMs: this.exitGraceMs } }];
      case 'pidChecked':
        // Still the recorded primary: no successor yet.
        return input.gone && input.recordPid === input.pid ? [{ died: {} }] : [];
      case 'tick':
        if (this.watching) return [];
        this.watching = true;
        return [{ openWatch: {} }];
    }
  }
}
