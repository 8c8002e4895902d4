/**
 * fbc gives up at once when nothing listens on any server (every one refuses the
 * connection for a while), and not while any server is merely slow or starting.
 */
import t from 'tap';
import { isConnectionRefused, RefusedServers } from '../../lib/client/refused-servers';

const grpcJs = (why: string): string => `No connection established. Last error: Error: ${why}. Resolution note: `;

t.test('a refused connection is told from other transport failures', async (t) => {
  t.ok(isConnectionRefused(grpcJs('connect ECONNREFUSED 127.0.0.1:50051')));
  t.ok(isConnectionRefused(grpcJs('connect EHOSTUNREACH 10.0.0.2:50051')));
  t.notOk(isConnectionRefused('Deadline exceeded after 2.001s'), 'a silent server is not refusing');
  t.notOk(isConnectionRefused(grpcJs('self-signed certificate in certificate chain')));
  t.notOk(isConnectionRefused('Connection dropped'));
});

t.test('every server refusing for the window is the verdict', async (t) => {
  const r = new RefusedServers(['a', 'b'], 750);
  r.record('a', true, 0);
  t.notOk(r.all(800), 'b was never tried');
  r.record('b', true, 10);
  t.notOk(r.all(700), 'not refused for long enough yet');
  r.record('a', true, 400);
  t.notOk(r.all(759), "b's run began at 10");
  t.ok(r.all(760));
});

t.test('a server that answers or times out is not refusing: its run starts again', async (t) => {
  const r = new RefusedServers(['a', 'b'], 750);
  r.record('a', true, 0);
  r.record('b', true, 0);
  r.record('b', false, 500); // a timeout: b may be busy or starting
  t.notOk(r.all(1000));
  r.record('b', true, 600);
  t.notOk(r.all(1300));
  t.ok(r.all(1350));
});

t.test('one server that keeps timing out keeps the client waiting its whole budget', async (t) => {
  const r = new RefusedServers(['a', 'b', 'c'], 750);
  for (let now = 0; now <= 15_000; now += 100) {
    r.record('a', true, now);
    r.record('b', true, now);
    r.record('c', false, now);
    t.notOk(r.all(now));
  }
});
