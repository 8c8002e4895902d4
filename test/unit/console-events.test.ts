/** The console's strip of events, from two views of the cluster: only what changed, named plainly. */
import t from 'tap';
import { consoleEvents, linkEvents } from '../../lib/admin/console-events';
import type { ClusterStatus, ProcessView } from '../../lib/admin/status';

const proc = (role: string, slot: number | null, pid: number, state = 'up'): ProcessView => ({ machine: 'm1', role, slot, pid, state, restarts: 0, heartbeatAgeMs: 10, uptimeMs: 1000, address: '' });
const view = (processes: ProcessView[], term = 1, reachable = true): ClusterStatus => ({
  master: reachable ? { machine: 'm1', pid: 10, term } : null,
  machines: { m1: { reachable, term, metricsUrl: '' } },
  processes,
  clocks: [],
  quarantined: [],
});
const texts = (prev: ClusterStatus, next: ClusterStatus) => consoleEvents(prev, next, 0).map((e) => `${e.kind}: ${e.text}`);

t.test('nothing changed: no event', async (t) => {
  const v = view([proc('master', null, 10), proc('worker', 0, 11)]);
  t.same(texts(v, v), []);
});

t.test('a worker with a new pid: its old pid down, its new one back', async (t) => {
  t.same(texts(view([proc('worker', 0, 11)]), view([proc('worker', 0, 12, 'starting')])), ['down: m1 worker 0: pid 11 down', 'revived: m1 worker 0: back as pid 12']);
});

t.test('a worker seen down, then up: down once, then up', async (t) => {
  const down = view([proc('worker', 0, 0, 'down')]);
  t.same(texts(view([proc('worker', 0, 11)]), down), ['down: m1 worker 0: pid 11 down']);
  t.same(texts(down, view([proc('worker', 0, 12)])), ['revived: m1 worker 0: up as pid 12']);
});

t.test('a new term is an election; a machine that stops answering is down, and up again', async (t) => {
  t.same(texts(view([], 1), view([], 2)), ['election: master m1 pid 10, term 2 (was m1, term 1)']);
  t.same(texts(view([], 1), view([], 1, false)), ['machine-down: m1 does not answer']);
  t.same(texts(view([], 1, false), view([], 1)), ['election: master m1 pid 10, term 1', 'machine-up: m1 answers again']);
});

t.test('a replication link that breaks is a link down, and up again once its machine pulls from the peer', async (t) => {
  const links = (texts: ReturnType<typeof linkEvents>) => texts.map((e) => `${e.kind}: ${e.text}`);
  const up = { m1: { m2: true, m3: true }, m2: { m1: true, m3: true } };
  const cut = { m1: { m2: false, m3: true }, m2: { m1: true, m3: true } };
  t.same(links(linkEvents(up, up, 0)), [], 'nothing changed');
  t.same(links(linkEvents(up, cut, 0)), ['link-down: link m2 → m1 down: m1 does not pull from m2']);
  t.same(links(linkEvents(cut, up, 0)), ['link-up: link m2 → m1 up: m1 pulls from m2']);
  t.same(links(linkEvents({}, cut, 0)), [], 'a link first seen down (a starting cluster) is no news');
  t.same(links(linkEvents(up, { ...up, m1: null }, 0)), [], "a machine whose metrics do not answer: its machine's events say so");
  t.same(links(linkEvents({ ...up, m1: null }, up, 0)), [], 'nor when it answers again with its links up');
});
