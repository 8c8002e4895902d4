/**
 * The master's polls of the other machines' primaries, and what follows from
 * their answers: every tick one poll to each (on its WatchChildren stream); a poll
 * not answered by the next tick, or a broken stream, means that primary does not
 * answer, and its children are not judged (RemoteChildWatch) until it answers
 * again. Each change of a primary's answering is noted once; one that never
 * answered yet is starting (a cluster starts in any order), so its silence is not
 * news. The lost children RemoteChildWatch finds come out as asks.
 *
 * Pure: no timers and no I/O. Fed `(input, now)` through step() from one
 * monotonic clock (the shape of every state machine here: ./supervisor.ts).
 */
import { RemoteChildWatch, type RemoteChildWatchOptions, type ReportedChild, type ReviveAsk } from './remote-children';
import type { Supervisor, Tick } from './supervisor';

export type PollInput =
  /** `machine`'s primary answered a poll with its children. */
  | { kind: 'answered'; machine: string; children: ReportedChild[] }
  /** The stream to `machine`'s primary broke (`error`: why, in one line). */
  | { kind: 'broken'; machine: string; error: string }
  /** Every pollMs. */
  | Tick;

export type PollAction =
  /** Send one poll to `machine`'s primary (opening its stream if it has none). */
  | { poll: { machine: string } }
  /** Ask that machine's primary to revive a lost child. */
  | { ask: ReviveAsk }
  /** `machine`'s primary answers again after it did not. */
  | { answersAgain: { machine: string } }
  /** `machine`'s primary stopped answering; `level` says whether that is news. */
  | { unanswered: { machine: string; level: 'debug' | 'warn'; error: string } };

export interface PrimaryPollsOptions extends RemoteChildWatchOptions {
  /** The machines whose primaries are polled (all but the master's). */
  machines: string[];
  /** How often step() gets a tick: a poll unanswered by then is a silent primary. */
  pollMs: number;
}

interface Link {
  /** A poll was sent and not answered yet. */
  awaiting: boolean;
  /** Whether its last poll was answered (undefined before the first). */
  answering?: boolean;
}

export class PrimaryPolls implements Supervisor<PollInput, PollAction> {
  private readonly links: Map<string, Link>;
  private readonly judge: RemoteChildWatch;

  constructor(private readonly options: Readonly<PrimaryPollsOptions>) {
    this.links = new Map(options.machines.map((m) => [m, { awaiting: false }]));
    this.judge = new RemoteChildWatch(options);
  }

  step(input: PollInput, now: number): PollAction[] {
    if (input.kind === 'tick') return this.tick(now);
    const link = this.links.get(input.machine);
    if (!link) return [];
    link.awaiting = false;
    if (input.kind === 'broken') return this.unanswered(input.machine, link, input.error, now);
    this.judge.step({ kind: 'report', machine: input.machine, children: input.children }, now);
    const before = link.answering;
    link.answering = true;
    return before === false ? [{ answersAgain: { machine: input.machine } }] : [];
  }

  private tick(now: number): PollAction[] {
    const out: PollAction[] = [];
    for (const [machine, link] of this.links) {
      if (link.awaiting) out.push(...this.unanswered(machine, link, `no answer within ${this.options.pollMs} ms`, now));
      link.awaiting = true;
      out.push({ poll: { machine } });
    }
    return [...out, ...this.judge.step({ kind: 'tick' }, now).map((ask) => ({ ask }))];
  }

  private unanswered(machine: string, link: Link, error: string, now: number): PollAction[] {
    this.judge.step({ kind: 'unanswered', machine }, now);
    const before = link.answering;
    link.answering = false;
    return before === false ? [] : [{ unanswered: { machine, level: before === undefined ? 'debug' : 'warn', error } }];
  }
}
