/**
 * The context handed to handlers explicitly (`handler(ctx, input)`). It is immutable: starting a
 * span or adding attributes returns a new context, so parenting follows the value passed on —
 * no async-local magic is needed to get the right parent.
 */
import type { Attributes, Baggage, Cache, Logger, LoggerLike, Metrics, Span, Tracer } from './contracts.js';
import { ConfigError, typeName } from './errors.js';
import { adaptLogger, bindLogger, dropLogResult, unboundLogger } from './log-binding.js';

/**
 * The parts a context carries, typed as the app was given them: `createApp({ tracer:
 * createOtelTracer(…), cache: createTieredCache(…) })` hands out contexts (and an `App`) whose
 * `tracer` is an `OtelTracer` and `cache` a `TieredCache`, and whose `components` have the types
 * given. They were the contracts alone (`components` values `unknown`), so `app.tracer.exportStats()`
 * or `ctx.cache.stats().l1Hits` needed a cast or a second reference. The defaults are the contracts.
 */
export interface AppParts {
  readonly tracer: Tracer;
  readonly cache: Cache;
  readonly metrics: Metrics;
  readonly components: Readonly<Record<string, unknown>>;
}

export interface AppContext<P extends AppParts = AppParts> {
  readonly tracer: P['tracer'];
  readonly cache: P['cache'];
  readonly metrics: P['metrics'];
  readonly logger: Logger;
  /** The active span: the parent of spans started from this context. */
  readonly span: Span | undefined;
  readonly baggage: Baggage;
  /** Attributes copied onto every span started from this context (request id, user id, …). */
  readonly attributes: Attributes;
  /** Aborted when the request (or the app) is cancelled, if the caller provided one. */
  readonly signal: AbortSignal | undefined;
  /** Extra named components given to `createApp` (a database pool, …); a frozen copy. */
  readonly components: Readonly<P['components']>;
  /** A copy of this context with some fields replaced; `attributes` and `baggage` are merged. */
  with(patch: ContextPatch): AppContext<P>;
}

export interface ContextPatch {
  span?: Span | undefined;
  baggage?: Baggage | undefined;
  attributes?: Attributes | undefined;
  signal?: AbortSignal | undefined;
  /** A `Logger`, `console` or a pino instance, adapted as `createApp` adapts its `logger`. */
  logger?: LoggerLike | undefined;
}

class Context implements AppContext {
  readonly tracer: Tracer;
  readonly cache: Cache;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly span: Span | undefined;
  readonly baggage: Baggage;
  readonly attributes: Attributes;
  readonly signal: AbortSignal | undefined;
  readonly components: Readonly<Record<string, unknown>>;

  // Positional fields (no record object per context): a context is made for every span started
  // through the span helpers, so this is on the hot path of handlers.
  constructor(
    tracer: Tracer,
    cache: Cache,
    metrics: Metrics,
    logger: Logger,
    span: Span | undefined,
    baggage: Baggage,
    attributes: Attributes,
    signal: AbortSignal | undefined,
    components: Readonly<Record<string, unknown>>,
  ) {
    this.tracer = tracer;
    this.cache = cache;
    this.metrics = metrics;
    this.logger = logger;
    this.span = span;
    this.baggage = baggage;
    this.attributes = attributes;
    this.signal = signal;
    this.components = components;
    Object.freeze(this);
  }

  with(patch: ContextPatch): AppContext {
    // A patch that is not an object (`null` from JavaScript callers) changes nothing; it threw a
    // TypeError from the `in` test below.
    if (patch === null || typeof patch !== 'object') return this;
    const span = 'span' in patch ? patch.span : this.span;
    // Adapted as createApp adapts its logger: a pino instance (pino-http's `req.log`) used as
    // given wrote each record without its fields (pino takes them first), and `console` outside
    // a span was `ctx.logger` itself, whose `child()` threw a TypeError.
    let logger = isObject(patch.logger) ? adaptLogger(patch.logger) : this.logger;
    // `ctx.logger` follows `ctx.span`, the active span (log-binding.ts): another span rebinds it,
    // none unbinds it, and a logger given while a span is active is bound to that span. It used
    // to keep the span of the context it came from (a detached job logged the request's trace).
    if (span !== this.span || patch.logger !== undefined)
      logger = span ? bindLogger(logger, span) : unboundLogger(logger);
    return new Context(
      this.tracer,
      this.cache,
      this.metrics,
      logger,
      span,
      patch.baggage ? mergeRecord(this, 'baggage', this.baggage, patch.baggage) : this.baggage,
      patch.attributes ? mergeRecord(this, 'attributes', this.attributes, patch.attributes) : this.attributes,
      'signal' in patch ? patch.signal : this.signal,
      this.components,
    );
  }
}

/**
 * `'Map'`, `'Set'` or `'Headers'` for such a collection, else undefined (one prototype read for a
 * plain object). Spread, its entries are lost: `ctx.with({ baggage: new Map([['tenant', 'acme']]) })`
 * sent no baggage and said nothing.
 */
function collectionKind(x: object): string | undefined {
  try {
    const proto: unknown = Object.getPrototypeOf(x);
    if (proto === Object.prototype || proto === null) return undefined;
    if (x instanceof Map) return 'Map';
    if (x instanceof Set) return 'Set';
    if (typeof Headers === 'function' && x instanceof Headers) return 'Headers';
    return undefined;
  } catch {
    return undefined;
  }
}

/** Tracers whose context was given `attributes` / `baggage` that are not an object (one warning each). */
const warnedPatches = new WeakSet<object>();

/**
 * `base` with `patch`'s entries. `patch` that is not a plain-ish object — a string, an array from
 * JavaScript — is ignored with one warning per tracer: spread, `'req-1'` became attributes `0`…`4`
 * on every span, and baggage `'ab'` went downstream as `baggage: 0=a,1=b`.
 */
function mergeRecord<T extends object>(ctx: AppContext, what: string, base: T, patch: T): T {
  let collection: string | undefined;
  if (typeof patch === 'object' && !Array.isArray(patch)) {
    collection = collectionKind(patch);
    if (collection === undefined) return { ...base, ...patch };
  }
  if (!warnedPatches.has(ctx.tracer)) {
    warnedPatches.add(ctx.tracer);
    const got = collection ? `a ${collection}` : Array.isArray(patch) ? 'an array' : typeof patch;
    try {
      dropLogResult(
        ctx.logger.warn(
          `ctx.with: ${what} must be an object, got ${got}${collection ? ' (its entries are not properties: use { key: value })' : ''}; ignored`,
        ),
      );
    } catch {
      // the context is still made
    }
  }
  return base;
}

/**
 * Throws unless `ctx` is a context (one `createApp` made, or any object with `with` and `tracer`):
 * the app itself passed for `app.ctx` (from JavaScript) made `startSpan`, `withSpan` and
 * `contextFromHeaders` throw a raw TypeError ("ctx.with is not a function", after starting a span
 * that was never ended), `traceHandler` fail every request with it, and `injectHeaders` write nothing.
 */
export function assertContext(ctx: unknown, helper: string): void {
  if (ctx instanceof Context) return;
  const c = ctx as { with?: unknown; tracer?: unknown; ctx?: unknown } | null | undefined;
  if (typeof c?.with === 'function' && typeof c.tracer === 'object' && c.tracer !== null) return;
  const app = typeof c?.ctx === 'object' && c.ctx !== null;
  throw new ConfigError(
    `${helper}: ${app ? 'given the app: pass app.ctx' : 'the first argument is not a context'}`,
    [
      {
        path: 'ctx',
        expected: 'a context: app.ctx, or the ctx a handler is given',
        received: app ? 'the app' : typeName(ctx),
        message: app ? 'is the app itself: pass app.ctx' : 'is not a context',
      },
    ],
  );
}

/**
 * `ctx.with({ span, logger })` for the span helpers (./span.ts), without the patch object: one
 * allocation per span instead of two on the path every handler span takes.
 */
export function childContext<P extends AppParts>(
  ctx: AppContext<P>,
  span: Span,
  logger: Logger,
): AppContext<P> {
  if (!(ctx instanceof Context)) return ctx.with({ span, logger });
  // The parts of `ctx` itself, so the child has the same part types.
  return new Context(
    ctx.tracer,
    ctx.cache,
    ctx.metrics,
    logger,
    span,
    ctx.baggage,
    ctx.attributes,
    ctx.signal,
    ctx.components,
  ) as AppContext<P>;
}

const EMPTY = Object.freeze({});

export function createContext(parts: {
  tracer: Tracer;
  cache: Cache;
  metrics: Metrics;
  /** A `Logger`, `console` or a pino instance, adapted as `createApp` adapts its `logger`. */
  logger: LoggerLike;
  components?: Readonly<Record<string, unknown>> | undefined;
}): AppContext {
  // Exported for tests of handlers: called from JavaScript without its parts (`createContext()`),
  // it threw a raw TypeError, or made a ctx whose first `ctx.tracer` call did.
  const given = parts as Record<string, unknown> | null | undefined;
  const issues =
    given === null || typeof given !== 'object'
      ? [{ path: '', expected: 'an object { tracer, cache, metrics, logger }', received: typeName(given) }]
      : (['tracer', 'cache', 'metrics', 'logger'] as const)
          .filter(
            (k) => given[k] === null || (typeof given[k] !== 'object' && typeof given[k] !== 'function'),
          )
          .map((k) => ({
            path: k,
            expected: `a ${k[0]!.toUpperCase()}${k.slice(1)} (its no-op if none)`,
            received: typeName(given[k]),
          }));
  if (issues.length > 0)
    throw new ConfigError(
      'createContext: every part is required (noopTracer, createNoopCache(), noopMetrics, noopLogger when you have none)',
      issues.map((i) => ({ ...i, message: 'is missing or has the wrong type' })),
    );
  return new Context(
    parts.tracer,
    parts.cache,
    parts.metrics,
    isObject(parts.logger) ? adaptLogger(parts.logger) : (parts.logger as Logger),
    undefined,
    EMPTY,
    EMPTY,
    undefined,
    Object.freeze({ ...parts.components }),
  );
}

const isObject = (x: unknown): x is object => typeof x === 'object' && x !== null;
