/**
 * Hyperion core (`hyperion`): contracts, no-ops, errors, the app context and its lifecycle. Imports
 * no package and nothing outside lib/core/ (spec/architecture/imports.test.ts checks it). Adapters
 * have their own subpaths (`hyperion/cache/tiered`, …); the core re-exports none of them.
 */

export {
  type App,
  type AppOptions,
  type AppPartsOf,
  type CloseOnSignalsOptions,
  closeOnSignals,
  compose,
  createApp,
} from './app.js';
export { type AppContext, type AppParts, type ContextPatch, createContext } from './context.js';
export type * from './contracts.js';
export { createDisposerStack, type DisposeInfo, type Disposer, type DisposerStack } from './disposers.js';
export { type DrainOptions, drainServer, type ServerDrain } from './drain.js';
export {
  CacheError,
  type CacheErrorCode,
  ClosedError,
  CloseError,
  ConfigError,
  type ConfigIssue,
  HyperionError,
  MetricsError,
  type MetricsErrorCode,
  TimeoutError,
  TracingError,
  type TracingErrorCode,
  typeName,
} from './errors.js';
export { adaptLogger, bindLogger, traceFields, unboundLogger } from './log-binding.js';
export { type ConsoleLoggerOptions, createConsoleLogger } from './logger.js';
export { createNoopCache, noopLogger, noopMetrics, noopSpan, noopTracer } from './noop.js';
export { refusalAware } from './refusal.js';
export { createSingleflight, type Singleflight } from './singleflight.js';
export { contextFromHeaders, injectHeaders, startSpan, withSpan } from './span.js';
export { watchTracerStats } from './tracer-metrics.js';
export {
  jsonCache,
  type StandardSchema,
  type TypedCache,
  type TypedCacheOptions,
  type TypedWriteOptions,
} from './typed.js';
// For authors of their own `Cache`: the input checks every built-in cache runs, so a custom one
// rejects bad keys, TTLs and values with the same `CacheError` codes (and the same key limit).
// `hitRatio` and `createSeededRandom` stay internal: an application never calls them, and a
// custom cache computes `CacheStats.hitRatio` as its doc says in one line.
// The input checks every cache of ours runs, for custom `Cache` implementations (the README names
// them; the write-option checks were not exported, so such a cache could not reuse them).
export {
  assertBudgetOptions,
  assertBytes,
  assertKey,
  assertTtl,
  assertWriteOptions,
  MAX_CALL_TTL_MS,
  MAX_KEY_BYTES,
} from './validate.js';
export { formatTraceparent, INVALID_SPAN_CONTEXT, isValidSpanContext, parseTraceparent } from './w3c.js';
