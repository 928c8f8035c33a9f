/**
 * Logs correlated with traces: the logger on a span's `ctx` is bound to that span, so every record
 * written through `ctx.logger` while the span is active carries `trace_id`, `span_id` and
 * `trace_flags` (the OpenTelemetry log data model's field names, as its pino/winston
 * instrumentations write them: lowercase hex ids, flags as two hex digits) — with no call by the
 * user. The binding goes through `Logger.child(fields)`, so it works with the built-in JSON logger
 * and any logger of the `Logger` shape; a pino instance is accepted as-is (`adaptLogger`).
 *
 * The binding is lazy: a span whose context never logs costs one small object, no `child()` call.
 * Nested spans bind the logger they started from, never a bound one, so a record carries each
 * field once (pino would otherwise write `trace_id` twice).
 */
import type { LogFields, Logger, LoggerLike, LogLevel, Span, SpanContext } from './contracts.js';
import { ConfigError, typeName } from './errors.js';
import { errorFields, isError, isFields, messageFirst } from './logger.js';
import { noopLogger } from './noop.js';
import { isValidSpanContext, lowerHex } from './w3c.js';

const HEX = /^[0-9a-f]+$/;

/** The correlation fields of `span`, or `undefined` when it has no valid trace context. */
export function traceFields(span: Span): LogFields | undefined {
  // A span of the user's own whose spanContext() throws has no context to log: logging runs on
  // failure paths and must not throw (every record of that ctx.logger threw).
  let sc: SpanContext;
  try {
    sc = span.spanContext();
  } catch {
    return undefined;
  }
  if (sc === null || typeof sc !== 'object' || !isValidSpanContext(sc)) return undefined;
  // Lowercase, as the header carries them (formatTraceparent): a span context built elsewhere
  // with uppercase ids logged them as they were, so log and trace searches did not match. Ids
  // that are not hex at all carry no trace context a backend knows: no fields, like an invalid one.
  const traceId = lowerHex(sc.traceId);
  const spanId = lowerHex(sc.spanId);
  if (!HEX.test(traceId) || !HEX.test(spanId)) return undefined;
  return {
    trace_id: traceId,
    span_id: spanId,
    trace_flags: (sc.traceFlags & 0xff).toString(16).padStart(2, '0'),
  };
}

/** The fields the binding owns: a record's own fields never replace them. */
const BOUND_KEYS = ['trace_id', 'span_id', 'trace_flags'] as const;

/**
 * `fields` without the keys the binding owns, or `fields` itself when it has none of them. Other
 * fields are copied as descriptors, so a getter is read (or fails) in the logger as before.
 */
function withoutBoundKeys(fields: LogFields | undefined): LogFields | undefined {
  return without(fields, BOUND_KEYS);
}

/** `fields` without `keys` (see `withoutBoundKeys`), or `fields` itself when it has none of them. */
function without<F extends LogFields | undefined>(fields: F, keys: readonly string[]): F {
  if (fields === null || typeof fields !== 'object') return fields;
  try {
    if (!keys.some((key) => Object.hasOwn(fields, key))) return fields;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(fields))
      if (!keys.includes(key))
        Object.defineProperty(out, key, {
          ...Object.getOwnPropertyDescriptor(fields, key),
          enumerable: true,
          configurable: true,
        });
    return out as F;
  } catch {
    // Keys that cannot be listed (a Proxy): the logger marks such fields unreadable itself.
    return fields;
  }
}

/**
 * `logger.child(fields)`, or — for a logger without `child`, such as `console`, which `createApp`
 * accepts — a logger that adds `fields` to each record itself. The binding called `child` on any
 * logger: with `createApp({ logger: console })` every `ctx.logger` call inside a span threw a
 * `TypeError` (in a `traceHandler` handler, a 500 for a log line).
 */
function childOf(logger: Logger, fields: LogFields): Logger {
  // A `child` that throws (a logger's own bug, a destination closed) made every `ctx.logger` call
  // inside a span throw — in a `traceHandler` handler, a 500 for a log line. The fields are then
  // added to each record instead, as for a logger without `child`.
  if (typeof logger.child === 'function')
    try {
      return logger.child(fields);
    } catch {
      return withFields(logger, fields);
    }
  return withFields(logger, fields);
}

/**
 * `logger` itself when it has `child`, else a logger that has one (fields added to each record):
 * for adapters that call `child` on the logger they are given.
 */
export function withChildMethod(logger: LoggerLike & Partial<Logger>): Logger {
  if (hasChild(logger)) return logger;
  const withChild = withFields(logger, undefined);
  // The app closes the logger it was given: a `close()` of its own stays reachable.
  const close = logger.close;
  return typeof close === 'function' ? { ...withChild, close: () => close.call(logger) } : withChild;
}

function hasChild(logger: LoggerLike & Partial<Logger>): logger is Logger {
  return typeof logger.child === 'function';
}

function withFields(logger: LoggerLike & Partial<Logger>, fields: LogFields | undefined): Logger {
  // The record's own fields after the bound ones, as a child logger writes them; fields that
  // cannot be copied (a getter that throws) are passed as they are, without the bound ones.
  const merged = (own: LogFields | undefined): LogFields | undefined => {
    if (own === undefined || fields === undefined) return own ?? fields;
    if (own === null || typeof own !== 'object') return own;
    // An Error given as the fields (from JavaScript): spread, it was nothing (no keys of its own).
    if (isError(own)) return { ...fields, error: own };
    try {
      return { ...fields, ...own };
    } catch {
      return own;
    }
  };
  // A pino-order call (`messageFirst`) is turned first: its string went to `merged` as the fields,
  // and the bound fields were lost with the record's own.
  const at =
    (level: LogLevel) =>
    (message: string, own?: LogFields): unknown => {
      if (typeof message === 'object') [message, own] = messageFirst(message, own);
      return logger[level](message, merged(own));
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => withFields(logger, merged(more) ?? fields),
    ...(typeof logger.enabled === 'function'
      ? { enabled: (level: LogLevel) => logger.enabled?.(level) !== false }
      : {}),
  };
}

/** A logger bound to a span: `child(traceFields(span))` of the unbound logger, made on first use. */
class SpanBoundLogger implements Logger {
  readonly root: Logger;
  readonly span: Span;
  private bound: Logger | undefined;
  /** Whether `bound` carries the span's fields (false: the span has no valid trace context). */
  private carries = false;

  constructor(root: Logger, span: Span) {
    this.root = root;
    this.span = span;
    this.bound = undefined;
  }

  private get target(): Logger {
    if (this.bound === undefined) {
      const fields = traceFields(this.span);
      this.carries = fields !== undefined;
      this.bound = fields ? childOf(this.root, fields) : this.root;
    }
    return this.bound;
  }

  /**
   * A record's fields minus `trace_id` / `span_id` / `trace_flags` when the span has them: like
   * `time`, `level` and `msg`, they are the logger's, not the record's. A field of that name used
   * to replace the span's id (console logger) or follow it as a second key that JSON readers take
   * instead (pino), so the line led to another trace or none.
   */
  private own(fields: LogFields | undefined): LogFields | undefined {
    return this.carries ? withoutBoundKeys(fields) : fields;
  }

  // A promise an async logger returns is dropped here (`dropLogResult`): a rejected one (its sink
  // down) was unhandled, whether the record was the core's own (`request handler failed`) or the
  // handler's.
  // A level the logger does not write is dropped before binding: binding converts the span
  // context and makes a child logger, ~10 µs per request in the demo's profile for an `info`
  // line that its `error`-level logger then dropped.
  debug(message: string, fields?: LogFields): void {
    if (this.root.enabled?.('debug') !== false) {
      if (typeof message === 'object') [message, fields] = messageFirst(message, fields);
      const target = this.target;
      dropLogResult(target.debug(message, this.own(fields)));
    }
  }
  info(message: string, fields?: LogFields): void {
    if (this.root.enabled?.('info') !== false) {
      if (typeof message === 'object') [message, fields] = messageFirst(message, fields);
      const target = this.target;
      dropLogResult(target.info(message, this.own(fields)));
    }
  }
  warn(message: string, fields?: LogFields): void {
    if (this.root.enabled?.('warn') !== false) {
      if (typeof message === 'object') [message, fields] = messageFirst(message, fields);
      const target = this.target;
      dropLogResult(target.warn(message, this.own(fields)));
    }
  }
  error(message: string, fields?: LogFields): void {
    if (this.root.enabled?.('error') !== false) {
      if (typeof message === 'object') [message, fields] = messageFirst(message, fields);
      const target = this.target;
      dropLogResult(target.error(message, this.own(fields)));
    }
  }
  enabled(level: LogLevel): boolean {
    return this.root.enabled?.(level) !== false;
  }
  /** A child of the unbound logger, bound to the same span (fields are never bound twice). */
  child(fields: LogFields): Logger {
    // Its fields lose the bound keys too when the span has them (a child's trace_id replaced the
    // span's in pino's output as a record's did).
    const own = traceFields(this.span) ? withoutBoundKeys(fields) : fields;
    return new SpanBoundLogger(childOf(this.root, own as LogFields), this.span);
  }
}

/** `logger` bound to `span` (see the module comment); the no-op logger stays as it is. */
export function bindLogger(logger: Logger, span: Span): Logger {
  if (logger === noopLogger) return logger;
  if (logger instanceof SpanBoundLogger && logger.span === span) return logger;
  return new SpanBoundLogger(logger instanceof SpanBoundLogger ? logger.root : logger, span);
}

/** The logger a span-bound logger was made from (itself for any other logger). */
export function unboundLogger(logger: Logger): Logger {
  return logger instanceof SpanBoundLogger ? logger.root : logger;
}

interface ObjectFirstLogger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
  child(fields: object): ObjectFirstLogger;
  bindings(): object;
  levels: object;
}

/** pino takes `(fields, message)`; `(message, fields)` would drop the fields. */
function isPino(x: unknown): x is ObjectFirstLogger {
  const l = x as Partial<ObjectFirstLogger> | null;
  return typeof l?.bindings === 'function' && typeof l.levels === 'object' && typeof l.child === 'function';
}

/**
 * pino serialises an Error only under the key `err`: `{ error: err }` (how traceHandler and the
 * demo log failures) came out as `"error":{}`. Errors under any other key get our fields.
 */
function withErrorsReadable(fields: LogFields): LogFields {
  let out: Record<string, unknown> | undefined;
  for (const key in fields) {
    const value = fields[key];
    if (key !== 'err' && isError(value)) {
      out ??= { ...fields };
      out[key] = errorFields(value);
    }
  }
  return out ?? fields;
}

/**
 * pino's own keys (its defaults): a record's field of that name followed pino's in the line, and
 * JSON readers take the last — an `info` record with a `level: 'fatal'` field read as fatal, one
 * with `time: 0` as written in 1970. Left out, as the console logger leaves them out.
 */
const PINO_OWN = ['level', 'time', 'msg'] as const;

function fromPino(p: ObjectFirstLogger): Logger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, fields?: LogFields): void => {
      if (typeof message === 'object') [message, fields] = messageFirst(message, fields);
      if (fields == null) p[level]({}, message);
      else if (isFields(fields)) p[level](withErrorsReadable(without(fields, PINO_OWN)), message);
      // A JavaScript caller's `log.error('failed', err.message)`: under `fields`, as the console
      // logger writes it. Passed first, pino took the string as the message (and 'failed' as an
      // argument of it), so the record said only what the second argument said.
      else p[level]({ fields }, message);
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    // A child's fields like a record's: an Error in them was written `{}`, and a `time` or `msg`
    // went out as a second key of that name, which JSON readers take (a line dated 1970). Fields
    // that are no object add nothing, as in the console logger: pino's `child(null)` threw
    // "missing bindings", and `child('ab')` bound fields `0` and `1`.
    child: (fields) =>
      fromPino(p.child(isFields(fields) ? withErrorsReadable(without(fields, PINO_OWN)) : {})),
  };
}

/**
 * What a log call returned, dropped: a logger whose methods are async (a sink that sends each
 * record) returns a promise, and when it rejected (the sink is down) nothing handled it — an
 * unhandled rejection, which ends the process under Node's default `--unhandled-rejections=throw`
 * (a Redis outage, logged through such a logger, ended the service).
 */
export function dropLogResult(result: unknown): void {
  try {
    if (
      result !== null &&
      (typeof result === 'object' || typeof result === 'function') &&
      typeof (result as { then?: unknown }).then === 'function'
    )
      (result as PromiseLike<unknown>).then(undefined, () => {});
  } catch {
    // a `then` that throws: nothing to handle
  }
}

/**
 * `logger` with every call's throw swallowed (the record is dropped), for the adapters that log
 * from connection events, timers and promise callbacks: there a logger that throws (a closed
 * destination) was an uncaught exception or an unhandled rejection that ended the process, or a
 * promise left unsettled (a tiered read whose "breaker closed" record threw never answered).
 * A promise a call returns that rejects is dropped too (`dropLogResult`).
 * `child()` is guarded the same way (a throwing one gives this logger, without the fields).
 */
export function quietLogger(logger: Logger): Logger {
  const quiet =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      try {
        dropLogResult(logger[level](message, fields));
      } catch {
        // nothing better to report it with
      }
    };
  const wrapped: Logger = {
    debug: quiet('debug'),
    info: quiet('info'),
    warn: quiet('warn'),
    error: quiet('error'),
    child: (fields) => {
      try {
        return quietLogger(logger.child(fields));
      } catch {
        return wrapped;
      }
    },
  };
  return wrapped;
}

/**
 * The `Logger` for `logger`: itself, or for a pino instance (recognised by `bindings()` and
 * `levels`) a thin adapter that passes fields first, the way pino expects them, or for a logger
 * without `child` (`console`) one that has it. `createApp` applies it, so a pino instance or
 * `console` can be given as `logger` as it is. `app.logger` was `console` itself, typed `Logger`:
 * `app.logger.child(…)` compiled and threw a TypeError.
 */
export function adaptLogger(logger: LoggerLike): Logger {
  // Not a logger (`undefined` from a missing config value): a ConfigError naming the argument, as
  // the factories' `logger` options give; it was a raw TypeError reading 'child' of undefined.
  // Only the shape is checked here: each factory checks the methods it calls.
  if (typeof logger !== 'object' || logger === null)
    throw new ConfigError('adaptLogger: logger must be a logger', [
      {
        path: 'logger',
        expected: 'a Logger, console or a pino instance',
        received: typeName(logger),
        message: 'is not a logger',
      },
    ]);
  return isPino(logger) ? fromPino(logger) : withChildMethod(logger);
}
