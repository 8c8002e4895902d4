/** Chat mode across a machine's workers: who must be told that a user is chatting elsewhere. */
import t from 'tap';
import { ChatPresence, type PresenceUpdate } from '../../lib/server/chat-presence';

const W = ['worker:0', 'worker:1', 'worker:2'];
const told = (updates: PresenceUpdate[]): string[] => updates.map((u) => `${u.to} ${u.msg.user} ${u.msg.on ? 'on' : 'off'}`).sort();

t.test('a user entering chat mode on one worker is reported to every other worker, not to that one', async (t) => {
  const p = new ChatPresence();
  t.same(told(p.report('worker:0', 'ann', true, W)), ['worker:1 ann on', 'worker:2 ann on']);
});

t.test('a second worker with a stream of the same user changes only the first worker\'s view', async (t) => {
  const p = new ChatPresence();
  p.report('worker:0', 'ann', true, W);
  t.same(told(p.report('worker:1', 'ann', true, W)), ['worker:0 ann on'], 'worker 0 now sees ann chatting elsewhere too');
  t.same(told(p.report('worker:0', 'ann', false, W)), ['worker:1 ann off'], 'ann left worker 0: only worker 1 sees her nowhere else');
  t.same(told(p.report('worker:1', 'ann', false, W)), ['worker:0 ann off', 'worker:2 ann off'], 'out of chat mode everywhere');
});

t.test("a dead worker's chat streams end with it", async (t) => {
  const p = new ChatPresence();
  p.report('worker:0', 'ann', true, W);
  p.report('worker:0', 'bob', true, W);
  p.report('worker:1', 'cid', true, W);
  const live = W.filter((w) => w !== 'worker:0');
  t.same(told(p.removeWorker('worker:0', live)), ['worker:1 ann off', 'worker:1 bob off', 'worker:2 ann off', 'worker:2 bob off']);
  t.same(told(p.removeWorker('worker:0', live)), [], 'removing it again changes nothing');
});

t.test('a new worker is told every user chatting on another worker', async (t) => {
  const p = new ChatPresence();
  p.report('worker:0', 'ann', true, W);
  p.report('worker:2', 'bob', true, W);
  t.same(told(p.snapshotFor('worker:2')), ['worker:2 ann on'], 'its own users are not "elsewhere"');
  t.same(told(p.snapshotFor('worker:1')), ['worker:1 ann on', 'worker:1 bob on']);
});
