/**
 * Structured logs (pino): one JSON object per line, always with machine, role and pid.
 * A server process writes them to its own file under data/<machine>/logs/ (rotated by
 * size), and to its terminal as the operator asked: the JSON lines themselves when
 * stdout is not a terminal or FBS_LOG=json (journald, CI and the tests read them there),
 * else warnings and errors only, one readable line each (pretty-line.ts).
 */
import { setLogger } from '@grpc/grpc-js';
import pino from 'pino';
import { formatLogLine } from './pretty-line';
import { RotatingFile } from './rotating-file';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LogBase {
  machine: string;
  role: string;
  [k: string]: unknown;
}

/** Where a terminal's share of the log goes: JSON lines, readable warnings, or nothing. */
export type ConsoleMode = 'json' | 'pretty' | 'none';

/** FBS_LOG=json (set by `--log json`) keeps the JSON lines on stdout even in a terminal. */
export function consoleMode(env: NodeJS.ProcessEnv = process.env, isTTY = !!process.stdout.isTTY): ConsoleMode {
  if (env.FBS_LOG === 'json' || env.FBS_LOG === 'pretty' || env.FBS_LOG === 'none') return env.FBS_LOG;
  return isTTY ? 'pretty' : 'json';
}

function minLevel(): Level {
  const asked = process.env.FBS_LOG_LEVEL;
  return asked === 'debug' || asked === 'info' || asked === 'warn' || asked === 'error' ? asked : 'info';
}

/** A server process's logger: its file in `logDir` (`<role>[-<slot>].log`), and its terminal as `consoleMode()` says. */
export function processLogger(base: LogBase, logDir: string): Logger {
  const level = minLevel();
  const name = base.slot === undefined ? String(base.role) : `${String(base.role)}-${String(base.slot)}`;
  const streams: pino.StreamEntry[] = [{ level, stream: new RotatingFile(logDir, `${name}.log`) }];
  const mode = consoleMode();
  if (mode === 'json') streams.push({ level, stream: { write: (line: string) => void process.stdout.write(line) } });
  else if (mode === 'pretty') streams.push({ level: 'warn', stream: { write: (line: string) => void process.stderr.write(formatLogLine(line)) } });
  const log = wrap(pino(options(base, level), pino.multistream(streams)), base);
  // grpc-js prints its errors (a failed bind, say) as raw lines on stderr; each is also an
  // error we handle and log ourselves, so its own copy goes to the file, at debug.
  setLogger({ error: (...args: unknown[]) => log.debug('grpc-js', { text: args.map(String).join(' ') }) });
  return log;
}

/** A logger writing each JSON line to `out` (stdout by default): tests, benches and one-off tools. */
export function createLogger(base: LogBase, out: (line: string) => void = (line) => process.stdout.write(line)): Logger {
  const level = minLevel();
  return wrap(pino(options(base, level), { write: out }), base);
}

function options(base: LogBase, level: Level): pino.LoggerOptions {
  return {
    level,
    base: { ...base, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
}

/** Our call shape on pino's; a field equal to one the logger already carries is not written twice. */
function wrap(p: pino.Logger, bound: Record<string, unknown>): Logger {
  const own = (f: Record<string, unknown> | undefined): Record<string, unknown> => (f ? Object.fromEntries(Object.entries(f).filter(([k, v]) => bound[k] !== v)) : {});
  return {
    debug: (m, f) => p.debug(own(f), m),
    info: (m, f) => p.info(own(f), m),
    warn: (m, f) => p.warn(own(f), m),
    error: (m, f) => p.error(own(f), m),
    child: (fields) => wrap(p.child(fields), { ...bound, ...fields }),
  };
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
