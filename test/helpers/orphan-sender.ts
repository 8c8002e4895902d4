/**
 * A parent and its forked child, for test/integration/orphan-child.test.ts. The parent
 * prints its child's pid and waits to be killed. The child writes `<dir>/ready`, then
 * blocks its event loop until `<dir>/parent-gone` exists (the test creates it once the
 * parent is reaped), so that it has not read its IPC channel's close, and sends to its
 * primary as every child does (child-ipc.ts toPrimary). It writes `<dir>/survived`
 * and exits 0 unless that send's failure (EPIPE) crashed it; its stderr goes to
 * `<dir>/stderr`.
 */
import { fork } from 'node:child_process';
import { existsSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toPrimary } from '../../lib/machine/child-ipc';

const dir = process.argv[2];
if (process.env.ORPHAN_CHILD === '1') {
  writeFileSync(join(dir, 'ready'), '');
  while (!existsSync(join(dir, 'parent-gone'))); // blocks on purpose: the channel's close is not read before the send
  toPrimary({ type: 'pong', loading: false });
  setTimeout(() => {
    writeFileSync(join(dir, 'survived'), '');
    process.exit(0);
  }, 200);
} else {
  const stderr = openSync(join(dir, 'stderr'), 'w');
  const child = fork(__filename, [dir], { env: { ...process.env, ORPHAN_CHILD: '1' }, stdio: ['ignore', 'ignore', stderr, 'ipc'] });
  process.stdout.write(`${child.pid}\n`);
}
