/** Structured logs: one JSON object per line, always with machine, role and pid. */
export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(
  base: { machine: string; role: string; [k: string]: unknown },
  out: (line: string) => void = (line) => process.stdout.write(line),
): Logger {
  const min = RANK[(process.env.FBS_LOG_LEVEL as Level) ?? 'info'] ?? RANK.info;
  const write = (level: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (RANK[level] < min) return;
    out(`${JSON.stringify({ time: new Date().toISOString(), level, ...base, pid: process.pid, msg, ...fields })}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger({ ...base, ...fields }, out),
  };
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
