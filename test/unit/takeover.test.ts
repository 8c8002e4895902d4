/**
 * A primary's start, stand-by, fencing and step-down (lib/control/takeover.ts),
 * and a guardian's verdict on its primary (lib/control/primary-verdict.ts), one
 * decision at a time. The seeded simulation (takeover-simulation.test.ts) checks
 * them together under kills, pauses and message loss.
 */
import t from 'tap';
import { PrimaryVerdict } from '../../lib/control/primary-verdict';
import { revivalTermOf, Takeover, type TakeoverAction } from '../../lib/control/takeover';
import { POLICY } from '../helpers/takeover-world';

const ME = 500;
const takeover = (revivalTerm?: number): Takeover => new Takeover({ pid: ME, revivalTerm, timing: POLICY });
const record = (pid: number, term: number, restarts = 0) => ({ pid, term, restarts });
const kinds = (actions: TakeoverAction[]): string[] => actions.map((a) => Object.keys(a)[0]);

t.test('a start on a machine with no live primary binds, then takes charge with a term above the record and the revival', async (t) => {
  const tk = takeover(9);
  t.same(tk.step({ kind: 'start', record: record(77, 4, 2), recordedRuns: false }, 0), [{ bind: { term: 10 } }]);
  t.same(tk.step({ kind: 'bound', ok: true, detail: '', record: record(77, 4, 2) }, 5), [{ keepGuardians: { term: 10 } }, { takeCharge: { term: 10, restarts: 3 } }]);
  t.same(tk.step({ kind: 'charged' }, 9), [{ inCharge: { term: 10, restarts: 3, previousPid: 77, died: true } }]);
  t.equal(tk.phase, 'in-charge');
});

t.test('a primary that charged and died between our read and our bind raises our term', async (t) => {
  const tk = takeover();
  tk.step({ kind: 'start', record: record(77, 4), recordedRuns: false }, 0);
  const actions = tk.step({ kind: 'bound', ok: true, detail: '', record: record(88, 6) }, 5);
  t.same(actions[1], { takeCharge: { term: 7, restarts: 1 } }, 'above term 6, not 5');
});

t.test('a recorded primary that shows life is left running: we stand by and ask it every heartbeat', async (t) => {
  const tk = takeover();
  t.same(tk.step({ kind: 'start', record: record(77, 4), recordedRuns: true }, 0), [{ probe: { pid: 77, timeoutMs: POLICY.fenceSilenceMs } }]);
  t.same(kinds(tk.step({ kind: 'lifeSign' }, 300)), ['standBy']);
  t.same(tk.step({ kind: 'tick' }, 300 + POLICY.standByEveryMs - 1), [], 'not before a heartbeat');
  t.same(tk.step({ kind: 'tick' }, 300 + POLICY.standByEveryMs), [{ ask: { timeoutMs: POLICY.standByAnswerMs } }]);
  t.same(tk.step({ kind: 'answered', alive: true, record: record(77, 4), recordedRuns: true }, 600), [], 'it answers: go on standing by');
  tk.step({ kind: 'tick' }, 600 + POLICY.standByEveryMs);
  t.same(tk.step({ kind: 'answered', alive: false, record: record(77, 4), recordedRuns: true }, 900), [], 'silent but running: its guardians judge it');
  tk.step({ kind: 'tick' }, 900 + POLICY.standByEveryMs);
  t.same(tk.step({ kind: 'answered', alive: false, record: record(77, 4), recordedRuns: false }, 1200), [{ bind: { term: 5 } }], 'gone: we start');
});

t.test('a recorded primary silent for the failure timeout is fenced before we bind', async (t) => {
  const tk = takeover(6);
  tk.step({ kind: 'start', record: record(77, 4), recordedRuns: true }, 0);
  t.same(tk.step({ kind: 'tick' }, POLICY.fenceSilenceMs - 1), [], 'it still has time to show life');
  t.same(tk.step({ kind: 'tick' }, POLICY.fenceSilenceMs), [{ fence: { pid: 77, silentMs: POLICY.fenceSilenceMs } }]);
  t.same(tk.step({ kind: 'lifeSign' }, POLICY.fenceSilenceMs + 1), [], 'too late: it is being killed');
  t.same(tk.step({ kind: 'recordedGone' }, POLICY.fenceSilenceMs + 50), [{ bind: { term: 7 } }]);
});

t.test('only the recorded primary answering the admin port as itself is life; another answering it is not', async (t) => {
  const tk = takeover();
  tk.step({ kind: 'start', record: record(77, 4), recordedRuns: true }, 0);
  t.same(tk.step({ kind: 'probeAnswer', pid: 88 }, 10), [], 'a newer start that holds the port says nothing of pid 77');
  t.equal(tk.phase, 'probing');
  t.same(kinds(tk.step({ kind: 'probeAnswer', pid: 77 }, 20)), ['standBy']);
  const fencing = takeover();
  fencing.step({ kind: 'start', record: record(77, 4), recordedRuns: true }, 0);
  fencing.step({ kind: 'tick' }, POLICY.fenceSilenceMs);
  t.same(fencing.step({ kind: 'probeAnswer', pid: 77 }, POLICY.fenceSilenceMs + 1), [], 'an answer after the fence is too late');
  t.equal(fencing.phase, 'fencing');
});

t.test("a revival's term comes from FBS_TERM: absent is a start by hand, unreadable counts as 0", async (t) => {
  t.equal(revivalTermOf(undefined), undefined);
  t.equal(revivalTermOf('7'), 7);
  t.equal(revivalTermOf('seven'), 0);
  t.same(takeover(revivalTermOf('seven')).step({ kind: 'start', record: record(77, 4), recordedRuns: false }, 0), [{ bind: { term: 5 } }], 'the record still raises the term');
});

t.test('a start whose bind fails stands by; a revival that finds a clean stop ends', async (t) => {
  const tk = takeover();
  tk.step({ kind: 'start', record: null, recordedRuns: false }, 0);
  t.same(tk.step({ kind: 'bound', ok: false, detail: 'held', record: null }, 1), [{ standBy: { reason: 'held' } }]);
  const revival = takeover(3);
  revival.step({ kind: 'start', record: record(77, 2), recordedRuns: false }, 0);
  t.same(kinds(revival.step({ kind: 'bound', ok: true, detail: '', record: record(0, 2) }, 1)), ['stopped']);
  const byHand = takeover();
  byHand.step({ kind: 'start', record: record(0, 2), recordedRuns: false }, 0);
  t.same(kinds(byHand.step({ kind: 'bound', ok: true, detail: '', record: record(0, 2) }, 1)), ['keepGuardians', 'takeCharge'], 'a start by hand starts a stopped machine');
});

t.test('in charge, a primary steps down for a newer term, its own term under another pid, or its lock taken; not while stopping', async (t) => {
  const inCharge = (): Takeover => {
    const tk = takeover();
    tk.step({ kind: 'start', record: record(77, 4), recordedRuns: false }, 0);
    tk.step({ kind: 'bound', ok: true, detail: '', record: record(77, 4) }, 1);
    tk.step({ kind: 'charged' }, 2);
    return tk;
  };
  t.same(inCharge().step({ kind: 'recordChanged', record: record(ME, 5) }, 3), [], 'our own write');
  t.same(kinds(inCharge().step({ kind: 'recordChanged', record: record(88, 6) }, 3)), ['stepDown']);
  t.same(kinds(inCharge().step({ kind: 'recordChanged', record: record(88, 5) }, 3)), ['stepDown']);
  t.same(kinds(inCharge().step({ kind: 'lockCompromised', detail: 'x' }, 3)), ['stepDown']);
  const stopping = inCharge();
  stopping.step({ kind: 'stopping' }, 3);
  t.same(stopping.step({ kind: 'recordChanged', record: record(0, 5) }, 4), [], 'our own clean stop');
});

t.test('a full disk makes a start wait and try again, logged once', async (t) => {
  const tk = takeover();
  tk.step({ kind: 'start', record: null, recordedRuns: false }, 0);
  tk.step({ kind: 'bound', ok: true, detail: '', record: null }, 1);
  t.same(tk.step({ kind: 'chargeFailed', detail: 'ENOSPC' }, 2), [{ waitForSpace: { detail: 'ENOSPC' } }]);
  t.same(tk.step({ kind: 'tick' }, 2 + POLICY.diskRetryMs), [{ takeCharge: { term: 1, restarts: 0 } }]);
  t.same(tk.step({ kind: 'chargeFailed', detail: 'ENOSPC' }, 1_100), [], 'logged once');
  tk.step({ kind: 'tick' }, 1_100 + POLICY.diskRetryMs);
  t.same(kinds(tk.step({ kind: 'charged' }, 2_200)), ['inCharge']);
});

t.test("a guardian's verdict: a broken stream and a dead recorded pid is a death; a successor or a clean stop is not", async (t) => {
  const v = new PrimaryVerdict(POLICY.exitGraceMs);
  t.same(v.step({ kind: 'tick' }, 0), [{ openWatch: {} }]);
  t.same(v.step({ kind: 'tick' }, 1), [], 'one stream at a time');
  t.same(v.step({ kind: 'answer', pid: 77, term: 4 }, 2), [{ heard: { term: 4 } }]);
  t.equal(v.term, 4);
  t.same(v.step({ kind: 'broken', recordPid: 77 }, 3), [{ checkPid: { pid: 77, withinMs: POLICY.exitGraceMs } }]);
  t.same(v.step({ kind: 'pidChecked', pid: 77, gone: true, recordPid: 77 }, 4), [{ died: {} }]);
  t.same(v.step({ kind: 'pidChecked', pid: 77, gone: true, recordPid: 88 }, 4), [], 'a successor holds the record');
  t.same(v.step({ kind: 'pidChecked', pid: 77, gone: false, recordPid: 77 }, 4), [], 'still alive: the beats decide');
  t.same(v.step({ kind: 'broken', recordPid: null }, 5), [{ died: {} }], 'no record');
  t.same(kinds(v.step({ kind: 'broken', recordPid: 0 }, 6) as never), ['exit'], 'a clean stop');
  t.same(kinds(v.step({ kind: 'answer', pid: 0, term: 0 }, 7) as never), ['exit'], 'the primary stops the machine');
  t.same(v.step({ kind: 'tick' }, 8), [{ openWatch: {} }], 'a broken stream is opened again');
});

/** A start standing by beside the running primary 77 (term 4), at time 300. */
function standingBy(tk: Takeover = takeover()): Takeover {
  tk.step({ kind: 'start', record: record(77, 4), recordedRuns: true }, 0);
  tk.step({ kind: 'lifeSign' }, 300);
  return tk;
}

t.test('a standby whose link to the running primary breaks asks at once, then every tick until it answers or is gone', async (t) => {
  const tk = standingBy();
  t.same(tk.step({ kind: 'runningLost' }, 310), [{ ask: { timeoutMs: POLICY.standByAnswerMs } }], 'not a heartbeat later');
  t.same(tk.step({ kind: 'runningLost' }, 311), [], 'one question at a time');
  t.same(tk.step({ kind: 'answered', alive: false, record: record(77, 4), recordedRuns: true }, 315), [], 'its pid outlives its sockets a moment');
  t.same(tk.step({ kind: 'tick' }, 316), [{ ask: { timeoutMs: POLICY.standByAnswerMs } }], 'asked again on the next tick');
  t.same(tk.step({ kind: 'answered', alive: false, record: record(77, 4), recordedRuns: false }, 330), [{ bind: { term: 5 } }], 'gone: the standby takes over');
  const back = standingBy();
  back.step({ kind: 'runningLost' }, 310);
  back.step({ kind: 'answered', alive: true, record: record(77, 4), recordedRuns: true }, 315);
  t.same(back.step({ kind: 'tick' }, 316), [], 'it answered again (a new connection): back to a question every heartbeat');
  t.same(back.step({ kind: 'tick' }, 315 + POLICY.standByEveryMs), [{ ask: { timeoutMs: POLICY.standByAnswerMs } }]);
  t.same(takeover().step({ kind: 'runningLost' }, 0), [], 'only a standby has such a link');
});

t.test('a standby of a machine that keeps a warm one forks its workers ahead once, after standing by a while', async (t) => {
  const warm = standingBy(new Takeover({ pid: ME, warm: true, timing: POLICY }));
  const warmUps = (tk: Takeover, now: number): number => kinds(tk.step({ kind: 'tick' }, now)).filter((k) => k === 'warmUp').length;
  t.equal(warmUps(warm, 300 + POLICY.standby.warmAfterMs - 1), 0, 'not while the recovery it may follow still runs');
  t.equal(warmUps(warm, 300 + POLICY.standby.warmAfterMs), 1);
  t.equal(warmUps(warm, 300 + 2 * POLICY.standby.warmAfterMs), 0, 'once');
  const cold = standingBy();
  t.equal(warmUps(cold, 300 + POLICY.standby.warmAfterMs), 0, 'not where the machine keeps no warm standby');
});

t.test("a guardian's verdict beside a standby: the dead primary's successor gets the standby's time before it is a death", async (t) => {
  const v = new PrimaryVerdict(POLICY.exitGraceMs, POLICY.standby.takeOverMs);
  v.step({ kind: 'tick' }, 0);
  t.same(v.step({ kind: 'broken', recordPid: 77, standby: true }, 10), [{ checkPid: { pid: 77, withinMs: POLICY.exitGraceMs } }]);
  t.same(v.step({ kind: 'pidChecked', pid: 77, gone: true, recordPid: 77 }, 20), [], 'dead, but a standby is taking over');
  t.same(v.step({ kind: 'tick' }, 10 + POLICY.standby.takeOverMs - 1), [{ openWatch: {} }], 'its time is not up');
  t.same(v.step({ kind: 'tick' }, 10 + POLICY.standby.takeOverMs), [{ checkPid: { pid: 77, withinMs: 0 } }], 'its time is up: look again');
  t.same(v.step({ kind: 'pidChecked', pid: 77, gone: true, recordPid: 77 }, 10 + POLICY.standby.takeOverMs + 1), [{ died: {} }], 'no successor: a death');
  const taken = new PrimaryVerdict(POLICY.exitGraceMs, POLICY.standby.takeOverMs);
  taken.step({ kind: 'broken', recordPid: 77, standby: true }, 10);
  taken.step({ kind: 'pidChecked', pid: 77, gone: true, recordPid: 77 }, 20);
  t.same(taken.step({ kind: 'answer', pid: 88, term: 5 }, 200), [{ heard: { term: 5 } }], 'the standby answers as the new primary');
  t.same(taken.step({ kind: 'tick' }, 10 + POLICY.standby.takeOverMs), [{ openWatch: {} }], 'nothing is left to judge');
  const none = new PrimaryVerdict(POLICY.exitGraceMs, POLICY.standby.takeOverMs);
  none.step({ kind: 'broken', recordPid: 77, standby: false }, 10);
  t.same(none.step({ kind: 'pidChecked', pid: 77, gone: true, recordPid: 77 }, 20), [{ died: {} }], 'no standby: a death at once');
});
