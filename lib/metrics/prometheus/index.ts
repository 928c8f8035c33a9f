/** Prometheus metrics for Hyperion: `createMetrics(options)` and its parts. */
export {
  createMetrics,
  type FrameworkMetrics,
  type MetricsAddress,
  type MetricsOptions,
  type PrometheusMetrics,
  type SeriesCapOption,
  type WatchCacheOptions,
} from './create.js';
export { type ExpositionFormat, negotiate, OPENMETRICS_TEXT, PROMETHEUS_TEXT } from './exposition.js';
export {
  ABORTED_STATUS,
  type InstrumentOptions,
  type NodeHandler,
  normalizeMethod,
  type RequestObservation,
  sampledTraceId,
} from './http.js';
export { DEFAULT_BUCKETS } from './names.js';
export { OVERFLOW_VALUE } from './series.js';
