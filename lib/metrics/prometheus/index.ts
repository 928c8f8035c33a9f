/**
 * Prometheus metrics for Hyperion: `createMetrics(options)` and the types its callers name.
 * Everything else in this folder is internal.
 */
// The types of `auth` and `tls`, so code building them apart can name them (auth.ts is not importable).

// The core contracts this subpath's results are typed with, re-exported so that a TypeScript
// module importing only this subpath can emit declarations for them (with `declaration: true` an
// exported result typed by a core contract failed with TS2742, naming …/dist/core/contracts.js).
export type { Counter, Gauge, Histogram, Metrics } from '../../core/index.js';
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
