/** A small structured logger writing one JSON object per line (stderr by default). */
import { types } from 'node:util';
import type { LogFields, Logger, LogLevel } from './contracts.js';
import { ConfigError, type ConfigIssue, typeName } from './errors.js';
import { optionKeys, unknownKeyMessage, unknownOptionIssues } from './options.js';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const LEVEL_NAMES = Object.keys(LEVELS);
/**
 * Other loggers' names for our levels: too far from ours for the edit-distance hint, so
 * `level: 'warning'` (Python, syslog) was refused without naming `warn`, as the README says it is.
 */
const LEVEL_ALIASES: Readonly<Record<string, LogLevel>> = {
  warning: 'warn',
  fatal: 'error',
  critical: 'error',
  trace: 'debug',
  verbose: 'debug',
};

export interface ConsoleLoggerOptions {
  /** Lowest level written. Default `info`. */
  level?: LogLevel | undefined;
  /** Fields added to every record (e.g. `{ service: 'gateway' }`). */
  fields?: LogFields | undefined;
  /** Where lines go. Default: `process.stderr.write`. */
  write?: ((line: string) => void) | undefined;
  /** Clock, injectable for tests. Default `Date.now`. */
  now?: (() => number) | undefined;
}

const KNOWN = optionKeys<ConsoleLoggerOptions>({ level: true, fields: true, write: true, now: true });

/**
 * Every option at once, as one `ConfigError`. Without it an unknown level (`'warning'`, `'INFO'`)
 * compared as `undefined` and let every record through, debug included, and a `write` that is not
 * a function threw on the first log call, often on a failure path.
 */
function checkOptions(options: unknown): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new ConfigError('createConsoleLogger: options must be an object', [
      { path: '', expected: 'an options object', received: typeName(options), message: 'has the wrong type' },
    ]);
  const o = options as Record<keyof ConsoleLoggerOptions, unknown>;
  const issues: ConfigIssue[] = unknownOptionIssues(options, KNOWN);
  const bad = (path: string, expected: string, message: string) =>
    issues.push({ path, expected, received: typeName(o[path as keyof ConsoleLoggerOptions]), message });
  if (o.level !== undefined && !(typeof o.level === 'string' && Object.hasOwn(LEVELS, o.level)))
    bad(
      'level',
      `one of ${LEVEL_NAMES.join(', ')}`,
      typeof o.level !== 'string'
        ? 'must be a string'
        : Object.hasOwn(LEVEL_ALIASES, o.level.toLowerCase())
          ? `is not a known log level; did you mean \`${LEVEL_ALIASES[o.level.toLowerCase()]}\`?`
          : unknownKeyMessage(o.level, LEVEL_NAMES, 'log level'),
    );
  if (
    o.fields !== undefined &&
    (typeof o.fields !== 'object' || o.fields === null || Array.isArray(o.fields))
  )
    bad('fields', 'an object of fields', 'fields must be an object');
  for (const fn of ['write', 'now'] as const)
    if (o[fn] !== undefined && typeof o[fn] !== 'function') bad(fn, 'a function', `${fn} must be a function`);
  if (issues.length > 0) throw new ConfigError('createConsoleLogger: invalid options', issues);
}

/** The JSON-lines logger; a bad option is a `ConfigError` (see `checkOptions`). */
export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  checkOptions(options);
  const min = LEVELS[options.level ?? 'info'];
  const write = sinkOf(options.write ?? ((line: string) => process.stderr.write(line)));
  const now = options.now ?? Date.now;
  const make = (base: LogFields): Logger => {
    const log = (level: LogLevel) => (message: string, fields?: LogFields) => {
      if (LEVELS[level] < min) return;
      if (typeof message === 'object') [message, fields] = messageFirst(message, fields);
      // The record's own keys win: a field named `level`, `time` or `msg` must not turn an info
      // record into an error one (or hide when it happened).
      const record: Record<string, unknown> = {
        time: timestamp(now),
        level,
        msg: typeof message === 'string' ? message : String(safe(() => String(message))),
      };
      merge(record, base);
      if (isFields(fields)) {
        merge(record, fields);
        // An Error given as the fields (a JavaScript caller's `log.error('failed', err)`): its
        // message and stack are no keys of its own, so the record said something failed and
        // never what. It is the record's `error` too (its own keys, `requestId`…, stay copied).
        if (isError(fields)) record.error = fields;
      } else if (fields != null) record.fields = fields; // a JavaScript caller's `log.info('x', 'text')`
      write(`${serialize(record)}\n`);
    };
    return {
      debug: log('debug'),
      info: log('info'),
      warn: log('warn'),
      error: log('error'),
      // Copied like a record's fields: a spread threw out of `child()` on a getter that throws.
      child: (fields) => {
        const next: Record<string, unknown> = { ...base };
        if (isFields(fields)) copyFields(next, fields, EMPTY_SET);
        return make(next);
      },
      enabled: (level) => LEVELS[level] >= min,
    };
  };
  // A copy, as child() makes one: the caller's object was kept, so changing it later changed
  // every record of the root logger (not of its children), e.g. a field meant for one request.
  const base: Record<string, unknown> = {};
  if (options.fields) copyFields(base, options.fields, EMPTY_SET);
  return make(base);
}

/**
 * `write` made safe to call: a sink that throws (a closed pipe's `EPIPE`, a stream destroyed
 * during shutdown) made every log call throw — in a request handler a log line became a 500, in
 * a disposer a failed close. The record is dropped instead, and the first failure of this logger
 * (its children share the sink) is one process warning, `HYPERION_LOG_WRITE`: the logger cannot
 * report its own sink's failure through that sink. A sink returning a promise that rejects (an
 * async `write`) is reported the same way; unhandled, the rejection ended the process.
 */
function sinkOf(write: (line: string) => unknown): (line: string) => void {
  let warned = false;
  const report = (err: unknown) => {
    if (warned) return;
    warned = true;
    const why = safe(() => (err instanceof Error ? err.message : String(err)));
    process.emitWarning(
      `createConsoleLogger: write failed, the record was dropped: ${String(why)} ` +
        '(later failures of this logger are not reported)',
      { type: 'HyperionLogWarning', code: 'HYPERION_LOG_WRITE' },
    );
  };
  return (line) => {
    try {
      const result = write(line);
      if (result instanceof Promise) result.catch(report);
    } catch (err) {
      report(err);
    }
  };
}

/**
 * The record's `time` from the `now` clock. A clock that throws or gives something that is no
 * time (NaN, a bigint from `process.hrtime.bigint`, a number past the Date range) made every log
 * call throw (`Invalid time value`); the record then takes the system clock's time instead.
 */
function timestamp(now: () => number): string {
  try {
    return new Date(now()).toISOString();
  } catch {
    return new Date().toISOString();
  }
}

/**
 * What a log record keeps of an error: JSON (and pino, for any field not named `err`) turn an
 * Error into `{}`. A getter that throws or a message that is not a string must not make the log
 * call throw: logging runs on failure paths. The `stack` is kept (as pino's own `err` serializer
 * keeps it): without it `request handler failed` said what failed but never where.
 */
export function errorFields(error: Error, depth = 0, seen: readonly Error[] = []): Record<string, unknown> {
  const read = (get: () => unknown): unknown => {
    try {
      return get();
    } catch {
      return '[unreadable]';
    }
  };
  const message = read(() => error.message);
  const out: Record<string, unknown> = {
    name: read(() => error.name),
    message:
      typeof message === 'string'
        ? message
        : String(typeof message === 'symbol' ? message.description : message),
  };
  if ('code' in error) out.code = read(() => (error as { code: unknown }).code);
  const stack = read(() => error.stack);
  if (typeof stack === 'string') out.stack = stack;
  const cause = read(() => error.cause);
  if (cause !== undefined) out.cause = causeField(cause, [...seen, error]);
  // An AggregateError's own errors (app.close()'s CloseError: what each disposer threw). Without
  // them, closeOnSignals' "app close failed" record named the failed disposers but never why.
  // One of another realm is known by its name (it is no `instanceof AggregateError` here).
  if (
    error instanceof AggregateError ||
    (!(error instanceof Error) && read(() => (error as Error).name) === 'AggregateError')
  ) {
    const errors = read(() => (error as AggregateError).errors);
    if (Array.isArray(errors))
      out.errors = errors
        .slice(0, MAX_LOGGED_ERRORS)
        .map((e) => (isError(e) && depth < 2 ? errorFields(e, depth + 1, [...seen, error]) : e));
  }
  return out;
}

/**
 * Whether a log call's (or `child()`'s) `fields` are a record of fields. A list is not: spread, a
 * JavaScript caller's `log.info('ids', [7, 8])` wrote fields `0` and `1`, first in the line
 * (integer keys come first in an object), and `child([7, 8])` bound them to every record; it goes
 * under `fields`, as text does, and a child given one adds nothing.
 */
export function isFields(value: unknown): value is object {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * An Error of this realm or of another one: an error made in a `node:vm` context (or any other
 * realm) is no `instanceof Error` here, and was written as `{}` — its message and stack lost.
 */
export function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

/**
 * A log call's arguments in our order. A JavaScript caller used to pino writes the fields first —
 * `log.info({ orderId }, 'charging')`, `log.error(err, 'failed')`, `log.error(err)` — and taken
 * as written the record's message read `[object Object]` and its fields were lost (the string went
 * under `fields`; through pino, the object was dropped). An object message (not an array) with a
 * string or no second argument is such a call: the object is the fields, the string (or an Error's own
 * message, or nothing) the message. Every other call is returned as it came.
 */
export function messageFirst(
  message: unknown,
  fields: unknown,
): [message: string, fields: LogFields | undefined] {
  if (
    message !== null &&
    typeof message === 'object' &&
    !Array.isArray(message) &&
    (fields === undefined || typeof fields === 'string')
  ) {
    const text = fields ?? (isError(message) ? safe(() => message.message) : '');
    return [typeof text === 'string' ? text : '', message as LogFields];
  }
  return [message as string, fields as LogFields | undefined];
}

/** How many of an AggregateError's errors a record carries. */
const MAX_LOGGED_ERRORS = 10;

/** How long a chain of causes a record carries. */
const MAX_CAUSES = 10;

/**
 * An Error cause as fields too. The JSON logger's replacer reached a nested Error anyway, but a pino
 * instance (given to `createApp`, these fields made for it by `adaptLogger`) writes an Error as
 * `{}`: `fetch failed` came with `"cause":{}`, its ECONNREFUSED lost, although the README promises
 * the cause through pino. A cause chain that loops is `[circular]`; past 10 causes, `[too deep]`.
 */
function causeField(cause: unknown, seen: readonly Error[]): unknown {
  if (!isError(cause)) return cause;
  if (seen.includes(cause)) return '[circular]';
  if (seen.length >= MAX_CAUSES) return '[too deep]';
  return errorFields(cause, 0, seen);
}

// Errors serialise to {} by default; keep what a reader needs.
function errorReplacer(_key: string, value: unknown) {
  if (isError(value)) return errorFields(value);
  if (typeof value === 'bigint') return value.toString();
  return value;
}

const OWN = new Set(['time', 'level', 'msg']);
const EMPTY_SET = new Set<string>();

/** Copies `fields` into `record`, skipping its own keys; a getter that throws gives `[unreadable]`. */
function merge(record: Record<string, unknown>, fields: object): void {
  copyFields(record, fields, OWN);
}

/**
 * Copies the fields of `fields` into `out`, except the keys in `skip`. Fields whose keys cannot
 * be listed (a Proxy whose `ownKeys` throws: the log call threw) are one `fields: '[unreadable]'`.
 */
function copyFields(record: Record<string, unknown>, fields: object, skip: ReadonlySet<string>): void {
  let keys: string[];
  try {
    keys = Object.keys(fields);
  } catch {
    record.fields = '[unreadable]';
    return;
  }
  for (const key of keys) {
    if (skip.has(key)) continue;
    const value = safe(() => (fields as Record<string, unknown>)[key]);
    // A `__proto__` field (parsed JSON can have one) is data, not the record's prototype.
    if (key === '__proto__')
      Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
    else record[key] = value;
  }
}

function safe(get: () => unknown): unknown {
  try {
    return get();
  } catch {
    return '[unreadable]';
  }
}

/** Nesting kept by the fallback below; deeper values print as `[too deep]`. */
const MAX_DEPTH = 16;

/**
 * One JSON line for `record`. `JSON.stringify` throws on a cycle (an error whose cause is itself, a
 * request object), on a getter or `toJSON` that throws, and overflows the stack on very deep
 * values; a log call runs on failure paths and must not throw, so those records take a slower walk
 * that marks each such spot instead (`[circular]`, `[unreadable]`, `[too deep]`).
 */
function serialize(record: Record<string, unknown>): string {
  try {
    return JSON.stringify(record, errorReplacer);
  } catch {
    try {
      return JSON.stringify(plain(record, [], 0));
    } catch {
      return fieldByField(record);
    }
  }
}

/** The longest line `fieldByField` writes, in characters (V8's longest string is 2^29 − 24). */
const MAX_LINE = 2 ** 28;

/**
 * The record one field at a time, a field whose JSON does not fit in the line as `[too large]`.
 * A record longer than the longest string V8 can make (a body or a `Buffer` of a few hundred MB
 * in its fields) threw `RangeError: Invalid string length` out of the log call.
 */
function fieldByField(record: Record<string, unknown>): string {
  let line = '{';
  for (const key of Object.keys(record)) {
    let part: string | undefined;
    try {
      const text = JSON.stringify(plain(record[key], [], 0));
      if (text === undefined) continue;
      part = `${JSON.stringify(key)}:${text}`;
    } catch {
      part = undefined;
    }
    if (part === undefined || line.length + part.length + 2 > MAX_LINE) {
      const name = key.length > 256 ? `${key.slice(0, 256)}…` : key;
      part = `${JSON.stringify(name)}:"[too large]"`;
    }
    line += `${line.length > 1 ? ',' : ''}${part}`;
  }
  return `${line}}`;
}

function plain(value: unknown, ancestors: object[], depth: number): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return typeof value === 'function' ? undefined : value;
  if (ancestors.includes(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  let v: unknown = value;
  if (isError(value)) v = errorFields(value);
  else if (typeof (value as { toJSON?: unknown }).toJSON === 'function')
    v = safe(() => (value as { toJSON(): unknown }).toJSON());
  if (v === null || typeof v !== 'object') return plain(v, ancestors, depth);
  ancestors.push(value);
  let out: unknown;
  if (Array.isArray(v))
    out = v.map(
      (x) =>
        plain(
          safe(() => x),
          ancestors,
          depth + 1,
        ) ?? null,
    );
  else {
    const keys = safe(() => Object.keys(v as object));
    // Keys that cannot be listed: the value is unreadable (the marker's characters were iterated).
    if (!Array.isArray(keys)) out = '[unreadable]';
    else {
      const o: Record<string, unknown> = {};
      for (const key of keys as string[])
        o[key] = plain(
          safe(() => (v as Record<string, unknown>)[key]),
          ancestors,
          depth + 1,
        );
      out = o;
    }
  }
  ancestors.pop();
  return out;
}
