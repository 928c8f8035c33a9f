/**
 * Prometheus metrics for Hyperion: `createMetrics(options)` and the types its callers name.
 * Everything else in this folder is internal.
 */
// The types of `auth` and `tls`, so code building them apart can name them (auth.ts is not importable).
export type { EndpointAuth, EndpointTls } from './auth.js';
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
