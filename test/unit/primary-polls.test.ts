/**
 * The master's polls of the other machines' primaries, driven by a fake clock: one
 * poll to each per tick; an unanswered poll or a broken stream is a primary that
 * does not answer (news once, and not at all before its first answer), whose
 * children are not judged until it answers again; lost children come out as asks.
 */
import t from 'tap';
import { PrimaryPolls, type PollAction } from '../../lib/control/primary-polls';
import type { ReportedChild } from '../../lib/control/remote-children';

const POLL_MS = 1_000;
const T0 = 50_000;
const expected = [{ role: 'worker', slot: 0 }];
const polls = (): PrimaryPolls =>
  new PrimaryPolls({ machines: ['m2', 'm3'], pollMs: POLL_MS, expected, hungAfterMs: 2_000, missingAfterMs: 1_000, reportFreshMs: 2_000, askAgainAfterMs: 5_000 });
const child = (heartbeatAgeMs: number): ReportedChild[] => [{ role: 'worker', slot: 0, pid: 201, heartbeatAgeMs }];

/** Each action in one line. */
function lines(actions: PollAction[]): string[] {
  return actions.map((a) => {
    if ('poll' in a) return `poll ${a.poll.machine}`;
    if ('ask' in a) return `ask ${a.ask.machine} ${a.ask.role} ${a.ask.slot} ${a.ask.reason}`;
    if ('answersAgain' in a) return `${a.answersAgain.machine} answers again`;
    return `${a.unanswered.machine} silent (${a.unanswered.level}): ${a.unanswered.error}`;
  });
}

t.test('every tick polls each other primary once; answers before the next tick are no news', async (t) => {
  const p = polls();
  for (let i = 0; i < 5; i++) {
    const now = T0 + i * POLL_MS;
    t.same(lines(p.step({ kind: 'tick' }, now)), ['poll m2', 'poll m3'], `tick ${i}`);
    for (const machine of ['m2', 'm3']) t.same(p.step({ kind: 'answered', machine, children: child(100) }, now + 20), []);
  }
});

t.test('a poll unanswered by the next tick is a silent primary: a warning once it had answered, debug before', async (t) => {
  const p = polls();
  p.step({ kind: 'tick' }, T0);
  p.step({ kind: 'answered', machine: 'm2', children: child(100) }, T0 + 10);
  t.same(lines(p.step({ kind: 'tick' }, T0 + POLL_MS)), ['poll m2', 'm3 silent (debug): no answer within 1000 ms', 'poll m3'], 'm3 never answered: it is starting');
  t.same(lines(p.step({ kind: 'tick' }, T0 + 2 * POLL_MS)), ['m2 silent (warn): no answer within 1000 ms', 'poll m2', 'poll m3'], 'm2 stopped answering; m3 is not news twice');
  t.same(lines(p.step({ kind: 'tick' }, T0 + 3 * POLL_MS)), ['poll m2', 'poll m3'], 'each change once');
  t.same(lines(p.step({ kind: 'answered', machine: 'm2', children: child(100) }, T0 + 3 * POLL_MS + 10)), ['m2 answers again']);
  t.same(lines(p.step({ kind: 'answered', machine: 'm3', children: child(100) }, T0 + 3 * POLL_MS + 10)), ['m3 answers again']);
});

t.test('a broken stream is a silent primary at once, and its poll is no longer awaited', async (t) => {
  const p = polls();
  p.step({ kind: 'tick' }, T0);
  p.step({ kind: 'answered', machine: 'm2', children: child(100) }, T0 + 10);
  p.step({ kind: 'tick' }, T0 + POLL_MS);
  p.step({ kind: 'answered', machine: 'm3', children: child(100) }, T0 + POLL_MS + 10);
  t.same(lines(p.step({ kind: 'broken', machine: 'm2', error: 'stream ended' }, T0 + POLL_MS + 20)), ['m2 silent (warn): stream ended']);
  t.same(lines(p.step({ kind: 'tick' }, T0 + 2 * POLL_MS)), ['poll m2', 'poll m3'], 'not reported silent again for the poll the stream lost');
  t.same(p.step({ kind: 'broken', machine: 'm9', error: 'x' }, T0 + 2 * POLL_MS), [], 'a machine not polled is ignored');
});

t.test("a silent child is asked for; a silent primary's children are not judged until it answers again", async (t) => {
  const p = polls();
  p.step({ kind: 'tick' }, T0);
  p.step({ kind: 'answered', machine: 'm2', children: child(2_500) }, T0 + 10);
  p.step({ kind: 'answered', machine: 'm3', children: child(100) }, T0 + 10);
  t.same(lines(p.step({ kind: 'tick' }, T0 + POLL_MS)), ['poll m2', 'poll m3', 'ask m2 worker 0 silent']);
  p.step({ kind: 'answered', machine: 'm3', children: child(2_500) }, T0 + POLL_MS + 10);
  p.step({ kind: 'broken', machine: 'm3', error: 'stream ended' }, T0 + POLL_MS + 20);
  t.notOk(lines(p.step({ kind: 'tick' }, T0 + 2 * POLL_MS)).some((l) => l.startsWith('ask m3')), "m3's report is not judged once it went silent");
});
