/**
 * Runs the real `./fbc` client over pipes: lines written to its stdin, its
 * stdout and stderr collected line by line for waitFor. Each process is killed
 * by pid when the test ends (if it has not exited by itself). Its key files live in
 * a config dir of the test process (XDG_CONFIG_HOME), never in ~/.config: every fbc
 * of a test process is one person, unless a test gives another `configHome`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { eachLine } from '../../lib/common/lines';
import { FBC, fbcConfigHome } from './server';

export { fbcConfigHome, newConfigHome } from './server';
import { waitFor } from './wait';
import { configFileFor } from './trust';

export interface FbcRun {
  proc: ChildProcess;
  out: string[];
  err: string[];
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  send(line: string): void;
  /** Closes stdin: end of input. */
  end(): void;
  waitOut(what: string, pred: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  waitErr(what: string, pred: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  kill(): void;
}

export interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * `args` without -c but with -s naming a cluster this test started get `-c` its
 * config, as a user of that cluster would have: fbc finds the cluster's CA through it.
 */
export function spawnFbc(t: Teardown, args: string[], configHome = fbcConfigHome()): FbcRun {
  const s = args.indexOf('-s');
  const listed = s < 0 || args.includes('-c') ? [] : (args[s + 1] ?? '').split(',');
  const config = listed.map(configFileFor).find(Boolean);
  const proc = spawn(FBC, config ? [...args, '-c', config] : args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, XDG_CONFIG_HOME: configHome } });
  const out: string[] = [];
  const err: string[] = [];
  collectLines(proc.stdout!, out);
  collectLines(proc.stderr!, err);
  proc.stdin!.on('error', () => undefined); // the client may exit before reading all input
  const exited = new Promise<number | string>((resolve) =>
    proc.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const run: FbcRun = {
    proc,
    out,
    err,
    exited,
    send: (line) => proc.stdin!.write(`${line}\n`),
    end: () => proc.stdin!.end(),
    waitOut: (what, pred, timeoutMs) => explained(waitFor(what, () => out.find(pred), timeoutMs), run),
    waitErr: (what, pred, timeoutMs) => explained(waitFor(what, () => err.find(pred), timeoutMs), run),
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null && proc.pid) process.kill(proc.pid, 'SIGKILL');
    },
  };
  t.teardown(() => run.kill());
  return run;
}

/** A whole piped session: writes the script, closes stdin, waits for the exit. */
export async function runFbc(
  t: Teardown,
  args: string[],
  script: string[],
  configHome?: string,
): Promise<{ code: number | string; out: string[]; err: string[] }> {
  const run = spawnFbc(t, args, configHome);
  for (const line of script) run.send(line);
  run.end();
  return finished(run);
}

/** Once fbc exited: its exit code, and every line it printed. */
export async function finished(run: FbcRun): Promise<{ code: number | string; out: string[]; err: string[] }> {
  const code = await run.exited;
  // stdout/stderr may still hold the last chunk after 'exit'.
  await Promise.all([ended(run.proc.stdout!), ended(run.proc.stderr!)]);
  return { code, out: run.out, err: run.err };
}

/** A timed-out wait says what the client had printed, which is what explains it. */
async function explained<T>(p: Promise<T>, run: FbcRun): Promise<T> {
  try {
    return await p;
  } catch (err) {
    const seen = `stdout:\n  ${run.out.join('\n  ')}\nstderr:\n  ${run.err.join('\n  ')}`;
    throw new Error(`${(err as Error).message}; fbc pid ${run.proc.pid} printed\n${seen}`);
  }
}

function collectLines(stream: NodeJS.ReadableStream, into: string[]): void {
  eachLine(stream, (line) => into.push(line));
}

function ended(stream: NodeJS.ReadableStream & { readableEnded?: boolean }): Promise<void> {
  return stream.readableEnded ? Promise.resolve() : new Promise((resolve) => stream.once('end', () => resolve()));
}
