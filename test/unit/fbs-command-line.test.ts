/**
 * A server process's command line is read back as it was built: fbs stop, fencing
 * and the reaper find a cluster's processes by pid through it.
 */
import t from 'tap';
import { readCommandLine, serverCommandLine } from '../../lib/common/fbs-command-line';

const argvOf = (l: { cmd: string; args: string[] }): string[] => [l.cmd, ...l.args];

t.test('every command a process starts another with reads back as built', async (t) => {
  const viaNode = ['/usr/bin/node', '/srv/ftchat/dist/bin/fbs.js'];
  t.match(readCommandLine(argvOf(serverCommandLine(viaNode, { verb: 'start', machine: 'm2', config: '/etc/c.json' }))), { verb: 'start', machine: 'm2', config: '/etc/c.json', slot: undefined });
  t.match(readCommandLine(argvOf(serverCommandLine(['bin/fbs'], { verb: 'guardian', machine: 'm1', slot: 1, config: 'c.json' }))), { verb: 'guardian', machine: 'm1', slot: '1', config: 'c.json' });
  t.match(readCommandLine(argvOf(serverCommandLine(viaNode, { verb: 'build-checkpoint', machine: 'm3', config: 'c.json' }))), { verb: 'build-checkpoint', machine: 'm3' });
});

t.test('an operator may write --flag=value', async (t) => {
  t.match(readCommandLine(['node', 'node_modules/.bin/fbs', 'start', '--machine=m1', '--config=./cluster.json']), { verb: 'start', machine: 'm1', config: './cluster.json' });
});

t.test('a wrapper naming the config but no fbs script has no verb; another fbs command has its own', async (t) => {
  t.equal(readCommandLine(['faketime', '-f', '-3h', 'sh', '-c', 'x', '--config', 'c.json']).verb, null);
  t.equal(readCommandLine(['node', 'dist/bin/fbs.js', 'stop', '--machine', 'm1']).verb, 'stop');
  t.equal(readCommandLine(['node', 'dist/bin/fbsx.js', 'start']).verb, null, 'only fbs itself counts');
});
