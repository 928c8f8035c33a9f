/// <reference lib="es2021.promise" preserve="true" />
/**
 * Typed errors. Every error carries a stable `code` (for programs) and an optional `cause`
 * (for people). Expected outcomes such as a cache miss are values, never errors.
 *
 * The `/// <reference lib>` line is kept in errors.d.ts: `CloseError extends AggregateError` (ES2021), so a
 * project whose `target`/`lib` is ES2020 or older (what `@types/node` itself needs) got TS2304
 * "Cannot find name 'AggregateError'" inside the declarations with `skipLibCheck: false`.
 */

/** Base class of every error Hyperion throws. Check `err.code` rather than `instanceof` across realms. */
export class HyperionError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HyperionError';
    this.code = code;
  }
}

/** One bad field of a configuration: where it is, what was expected, what type was found. */
export interface ConfigIssue {
  /** Dotted path, e.g. `cache.sentinel.master_name`. */
  readonly path: string;
  /** Human description of the expected shape. */
  readonly expected: string;
  /** The type that was received (never the value: it may be a secret). */
  readonly received: string;
  readonly message: string;
}

/** A configuration or option is invalid. `issues` lists every bad field at once. */
export class ConfigError extends HyperionError {
  declare readonly code: 'config_invalid';
  readonly issues: readonly ConfigIssue[];
  constructor(message: string, issues: readonly ConfigIssue[] = [], options?: { cause?: unknown }) {
    const detail = issues.length
      ? `\n${issues.map((i) => `  - ${i.path || '(root)'}: ${i.message} (expected ${i.expected}, received ${i.received})`).join('\n')}`
      : '';
    super('config_invalid', `${message}${detail}`, options);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Codes a cache can fail with; see each adapter's docs for when they occur. */
export type CacheErrorCode =
  | 'invalid_key'
  | 'invalid_value'
  | 'invalid_ttl'
  | 'invalid_cost'
  | 'too_large'
  | 'closed'
  | 'timeout'
  | 'unavailable'
  | 'oom'
  | 'cross_slot'
  | 'decode_failed'
  | 'peer_missing'
  | 'backend';

/** A cache operation failed (bad input, or the backend could not answer). */
export class CacheError extends HyperionError {
  declare readonly code: CacheErrorCode;
  constructor(code: CacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'CacheError';
  }
}

/**
 * Codes a `TracingError` can have (tracing README): an optional OpenTelemetry peer not installed
 * (`otel_peer_missing`), no supported SDK at all (`otel_sdk_missing`), an exporter or propagator
 * the installed OpenTelemetry line does not have (`otel_exporter_unsupported`,
 * `otel_propagator_unsupported`: Jaeger thrift on 3.x), a flush that could not export
 * (`flush_failed`). A union, like `CacheErrorCode`, so that a `switch (err.code)` is checked for
 * exhaustiveness; the code was typed `string`, so a typo (`'flush_fail'`) compiled and never matched.
 */
export type TracingErrorCode =
  | 'otel_peer_missing'
  | 'otel_sdk_missing'
  | 'otel_exporter_unsupported'
  | 'otel_propagator_unsupported'
  | 'flush_failed';

/** Codes a `MetricsError` can have (Prometheus metrics README); a union for the same reason. */
export type MetricsErrorCode =
  | 'invalid_option'
  | 'invalid_name'
  | 'invalid_label'
  | 'invalid_help'
  | 'invalid_buckets'
  | 'invalid_value'
  | 'incompatible_metric'
  | 'duplicate_cache'
  | 'collect_timeout'
  | 'listen_failed'
  | 'closed'
  | 'peer_missing';

/**
 * Misuse of the tracing API, a tracer that cannot be built, or a flush that could not export
 * (`code: 'flush_failed'`; `causes` lists every underlying error, `cause` is the first).
 */
export class TracingError extends HyperionError {
  declare readonly code: TracingErrorCode;
  /** Every underlying error, when several led to this one (e.g. each failed export of a flush). */
  readonly causes: readonly unknown[];
  constructor(
    code: TracingErrorCode,
    message: string,
    options?: { cause?: unknown; causes?: readonly unknown[] | undefined },
  ) {
    const causes = options?.causes ?? (options && 'cause' in options ? [options.cause] : []);
    super(code, message, causes.length > 0 ? { cause: options?.cause ?? causes[0] } : undefined);
    this.name = 'TracingError';
    this.causes = causes;
  }
}

/** Invalid metric name, label, or incompatible re-registration. */
export class MetricsError extends HyperionError {
  declare readonly code: MetricsErrorCode;
  constructor(code: MetricsErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'MetricsError';
  }
}

/** An operation did not finish within its time bound. */
export class TimeoutError extends HyperionError {
  declare readonly code: 'timeout';
  constructor(message: string, options?: { cause?: unknown }) {
    super('timeout', message, options);
    this.name = 'TimeoutError';
  }
}

/**
 * `app.close()` (a disposer stack) had failures: `errors` lists each one (a `TimeoutError`, or a
 * `HyperionError` `dispose_failed` naming the disposer). An `AggregateError`, with the `code`
 * every Hyperion error carries (`close_failed`): it was a bare `AggregateError` without one.
 */
export class CloseError extends AggregateError {
  readonly code = 'close_failed' as const;
  constructor(errors: readonly unknown[], message: string) {
    super(errors, message);
    this.name = 'CloseError';
  }
}

/**
 * A component was used after its `close()`: for components of your own. Hyperion's parts say it
 * with their own class and code `closed` (`CacheError('closed')`, `MetricsError('closed')`).
 */
export class ClosedError extends HyperionError {
  declare readonly code: 'closed';
  constructor(message: string) {
    super('closed', message);
    this.name = 'ClosedError';
  }
}

/** Describes a value's type for error messages without revealing the value. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  // Both checks can throw: on a revoked Proxy (a TypeError) and on a Proxy whose
  // `getPrototypeOf` trap throws. The typed error this name goes into was replaced by that raw
  // error (`assertKey(revoked)` threw "Cannot perform 'IsArray' on a proxy that has been revoked").
  try {
    if (Array.isArray(value)) return 'array';
    if (ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === '[object Uint8Array]')
      return 'Uint8Array';
  } catch {
    return typeof value;
  }
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  return typeof value;
}
