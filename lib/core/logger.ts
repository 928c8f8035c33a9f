/** A small structured logger writing one JSON object per line (stderr by default). */
import type { LogFields, Logger, LogLevel } from './contracts.js';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface ConsoleLoggerOptions {
  /** Lowest level written. Default `info`. */
  level?: LogLevel;
  /** Fields added to every record (e.g. `{ service: 'gateway' }`). */
  fields?: LogFields;
  /** Where lines go. Default: `process.stderr.write`. */
  write?: (line: string) => void;
  /** Clock, injectable for tests. Default `Date.now`. */
  now?: () => number;
}

export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const min = LEVELS[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const now = options.now ?? Date.now;
  const make = (base: LogFields): Logger => {
    const log = (level: LogLevel) => (message: string, fields?: LogFields) => {
      if (LEVELS[level] < min) return;
      const record = { time: new Date(now()).toISOString(), level, msg: message, ...base, ...fields };
      write(`${JSON.stringify(record, errorReplacer)}\n`);
    };
    return {
      debug: log('debug'),
      info: log('info'),
      warn: log('warn'),
      error: log('error'),
      child: (fields) => make({ ...base, ...fields }),
      enabled: (level) => LEVELS[level] >= min,
    };
  };
  return make(options.fields ?? {});
}

// Errors serialise to {} by default; keep what a reader needs.
function errorReplacer(_key: string, value: unknown) {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    if ('code' in value) out.code = (value as { code: unknown }).code;
    if (value.cause !== undefined) out.cause = value.cause;
    return out;
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}
