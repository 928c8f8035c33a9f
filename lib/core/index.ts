/** Hyperion core: contracts, no-ops, errors, the app context and its lifecycle. Imports no package. */

export * from '../cache/tiered.js';
export { type App, type AppOptions, closeOnSignals, compose, createApp } from './app.js';
export { type AppContext, type ContextPatch, createContext } from './context.js';
export type * from './contracts.js';
export { createDisposerStack, type DisposeInfo, type Disposer, type DisposerStack } from './disposers.js';
export { type DrainOptions, drainServer, type ServerDrain } from './drain.js';
export {
  CacheError,
  type CacheErrorCode,
  ClosedError,
  ConfigError,
  type ConfigIssue,
  HyperionError,
  MetricsError,
  TimeoutError,
  TracingError,
  typeName,
} from './errors.js';
export { type ConsoleLoggerOptions, createConsoleLogger } from './logger.js';
export { createNoopCache, noopLogger, noopMetrics, noopSpan, noopTracer } from './noop.js';
export { createSingleflight, type Singleflight } from './singleflight.js';
export { contextFromHeaders, injectHeaders, startSpan, withSpan } from './span.js';
export { watchTracerStats } from './tracer-metrics.js';
export { jsonCache, type StandardSchema, type TypedCache, type TypedCacheOptions } from './typed.js';
export { assertBytes, assertKey, assertTtl, hitRatio, MAX_KEY_BYTES } from './validate.js';
export { formatTraceparent, INVALID_SPAN_CONTEXT, isValidSpanContext, parseTraceparent } from './w3c.js';
