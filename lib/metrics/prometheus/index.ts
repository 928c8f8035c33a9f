/**
 * Prometheus metrics for Hyperion: `createMetrics(options)` and the types its callers name.
 * Everything else in this folder is internal.
 */
export { createMetrics } from './create.js';
export type { InstrumentOptions, NodeHandler, RequestObservation } from './http.js';
export type { MetricsNaming, MetricsOptions } from './options.js';
export type {
  DbConnections,
  FrameworkMetrics,
  MetricsAddress,
  MetricsCloseOptions,
  PrometheusMetrics,
  SeriesCapOption,
  WatchCacheOptions,
} from './types.js';
