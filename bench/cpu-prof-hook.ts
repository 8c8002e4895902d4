/**
 * Preloaded into a server's processes (`NODE_OPTIONS=--require .../cpu-prof-hook.js`,
 * where `--cpu-prof` is refused) to profile each one: the V8 CPU profile goes to
 * $FTCHAT_CPU_PROF_DIR/<pid>.cpuprofile when the process exits (not on SIGKILL).
 * The inspector session is in-thread, so its calls answer synchronously, as 'exit' needs.
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.FTCHAT_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (err, r) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(r.profile));
    });
  });
}
