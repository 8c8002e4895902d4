import t from 'tap';
import { OnceEvery } from '../../lib/core/once-every';

t.test('a gate opens the first time at once, then at most once every everyMs', async (t) => {
  const gate = new OnceEvery(1_000);
  t.equal(gate.due(5_000), true, 'the first look opens it');
  t.equal(gate.due(5_999), false, 'shut for everyMs after it opened');
  t.equal(gate.due(6_000), true, 'open again everyMs later');
  t.equal(gate.due(6_500), false, 'and the next time counts from then');
  t.equal(gate.due(7_000), true);
});
