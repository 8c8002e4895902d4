import t from 'tap';
import { CatchUpGate } from '../../lib/replication/catch-up-gate';

t.test('one link leads a big catch-up; the others stand back and are woken when it is done', async (t) => {
  const gate = new CatchUpGate();
  const woken: string[] = [];
  t.ok(gate.lead('m1', () => woken.push('m1')), 'the first link leads');
  t.notOk(gate.lead('m2', () => woken.push('m2')), 'a second one stands back');
  t.ok(gate.lead('m1', () => woken.push('m1')), 'the leader may pull again (after a break)');
  gate.release('m2');
  t.same(woken, [], 'a link that is not leading releases nothing');
  t.notOk(gate.lead('m2', () => woken.push('m2')), 'and still stands back');
  gate.release('m1');
  t.same(woken, ['m2'], 'the leader done: the waiting link is woken, once');
  gate.release('m1');
  t.same(woken, ['m2']);
  t.ok(gate.lead('m2', () => woken.push('m2')), 'the woken link may lead now');
});

t.test('a link that stops while standing back is not woken', async (t) => {
  const gate = new CatchUpGate();
  const woken: string[] = [];
  gate.lead('m1', () => woken.push('m1'));
  gate.lead('m2', () => woken.push('m2'));
  gate.release('m2'); // m2 stopped
  gate.release('m1');
  t.same(woken, []);
});
