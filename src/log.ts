/** A minimal structured logger: one JSON object per line on stdout (errors on stderr). */
import type { LogLevel } from './config.ts';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; defaults to stdout/stderr. Tests pass an array sink. */
  write?: (line: string, level: LogLevel) => void;
}

/** Creates a logger that drops lines below `level`. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write =
    opts.write ?? ((line: string, level: LogLevel) => (level === 'error' ? process.stderr : process.stdout).write(line + '\n'));
  const log = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }), level);
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** A logger that writes nothing. */
export const silentLogger: Logger = createLogger({ write: () => {} });
