/**
 * The context handed to handlers explicitly (`handler(ctx, input)`). It is immutable: starting a
 * span or adding attributes returns a new context, so parenting follows the value passed on —
 * no async-local magic is needed to get the right parent.
 */
import type { Attributes, Baggage, Cache, Logger, Metrics, Span, Tracer } from './contracts.js';

export interface AppContext {
  readonly tracer: Tracer;
  readonly cache: Cache;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The active span: the parent of spans started from this context. */
  readonly span: Span | undefined;
  readonly baggage: Baggage;
  /** Attributes copied onto every span started from this context (request id, user id, …). */
  readonly attributes: Attributes;
  /** Aborted when the request (or the app) is cancelled, if the caller provided one. */
  readonly signal: AbortSignal | undefined;
  /** Extra named components given to `createApp` (a database pool, …). */
  readonly components: Readonly<Record<string, unknown>>;
  /** A copy of this context with some fields replaced; `attributes` and `baggage` are merged. */
  with(patch: ContextPatch): AppContext;
}

export interface ContextPatch {
  span?: Span | undefined;
  baggage?: Baggage;
  attributes?: Attributes;
  signal?: AbortSignal | undefined;
  logger?: Logger;
}

interface ContextFields {
  tracer: Tracer;
  cache: Cache;
  metrics: Metrics;
  logger: Logger;
  span: Span | undefined;
  baggage: Baggage;
  attributes: Attributes;
  signal: AbortSignal | undefined;
  components: Readonly<Record<string, unknown>>;
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

  constructor(f: ContextFields) {
    this.tracer = f.tracer;
    this.cache = f.cache;
    this.metrics = f.metrics;
    this.logger = f.logger;
    this.span = f.span;
    this.baggage = f.baggage;
    this.attributes = f.attributes;
    this.signal = f.signal;
    this.components = f.components;
    Object.freeze(this);
  }

  with(patch: ContextPatch): AppContext {
    return new Context({
      tracer: this.tracer,
      cache: this.cache,
      metrics: this.metrics,
      logger: patch.logger ?? this.logger,
      span: 'span' in patch ? patch.span : this.span,
      baggage: patch.baggage ? { ...this.baggage, ...patch.baggage } : this.baggage,
      attributes: patch.attributes ? { ...this.attributes, ...patch.attributes } : this.attributes,
      signal: 'signal' in patch ? patch.signal : this.signal,
      components: this.components,
    });
  }
}

const EMPTY = Object.freeze({});

export function createContext(parts: {
  tracer: Tracer;
  cache: Cache;
  metrics: Metrics;
  logger: Logger;
  components?: Readonly<Record<string, unknown>>;
}): AppContext {
  return new Context({
    ...parts,
    span: undefined,
    baggage: EMPTY,
    attributes: EMPTY,
    signal: undefined,
    components: Object.freeze({ ...parts.components }),
  });
}
