/**
 * The framework metrics registered at creation (names get the `namespace_subsystem_` prefix):
 * request count and latency, the cache metrics read at scrape time, database connections, and the
 * counter of observations the cardinality cap folded away.
 */

import type { RequestObservation } from './http.js';
import type { CounterImpl, GaugeImpl, HistogramImpl } from './instruments.js';
import type { MetricRegistry } from './registry.js';

export interface FrameworkParts {
  readonly dropped: CounterImpl;
  readonly requests: CounterImpl;
  readonly requestDuration: HistogramImpl;
  readonly cacheRequests: CounterImpl;
  readonly cacheHitRate: GaugeImpl;
  readonly cacheEvictions: CounterImpl;
  readonly cacheErrors: CounterImpl;
  readonly dbConnections: GaugeImpl;
}

/** Registers every framework metric, `metrics_series_dropped_total` first (the cap of the others counts into it). */
export function registerFramework(reg: MetricRegistry): FrameworkParts {
  const dropped = reg.register('counter', {
    name: 'metrics_series_dropped_total',
    help: 'Observations folded into the overflow series because the metric reached its label-combination cap',
    labelNames: ['metric'],
    maxSeries: Number.MAX_SAFE_INTEGER,
  }) as CounterImpl;
  const requests = reg.register('counter', {
    name: 'requests_total',
    help: 'Total number of requests',
    labelNames: ['method', 'route', 'status'],
  }) as CounterImpl;
  const requestDuration = reg.register('histogram', {
    name: 'request_duration_seconds',
    help: 'Request duration in seconds',
    labelNames: ['method', 'route'],
  }) as HistogramImpl;
  const cacheRequests = reg.register('counter', {
    name: 'cache_requests_total',
    help: 'Cache reads by result (hit or miss), read from the cache at scrape time',
    labelNames: ['cache', 'result'],
  }) as CounterImpl;
  const cacheHitRate = reg.register('gauge', {
    name: 'cache_hit_rate',
    help: 'Cache hit ratio since start (hits / reads), computed at scrape time',
    labelNames: ['cache_type'],
  }) as GaugeImpl;
  const cacheEvictions = reg.register('counter', {
    name: 'cache_evictions_total',
    help: 'Keys evicted from the cache, read at scrape time',
    labelNames: ['cache'],
  }) as CounterImpl;
  const cacheErrors = reg.register('counter', {
    name: 'cache_errors_total',
    help: 'Backend errors seen by the cache, read at scrape time',
    labelNames: ['cache'],
  }) as CounterImpl;
  const dbConnections = reg.register('gauge', {
    name: 'db_connections_active',
    help: 'Active database connections',
  }) as GaugeImpl;
  return {
    dropped,
    requests,
    requestDuration,
    cacheRequests,
    cacheHitRate,
    cacheEvictions,
    cacheErrors,
    dbConnections,
  };
}

/** Records one finished request into `requests_total` and `request_duration_seconds` (with its trace id as exemplar). */
export function requestRecorder(f: FrameworkParts): (o: RequestObservation) => void {
  return (o) => {
    const status = String(o.status);
    f.requests.inc({ method: o.method, route: o.route, status });
    const labels = { method: o.method, route: o.route };
    if (o.traceId) f.requestDuration.observe(labels, o.seconds, { trace_id: o.traceId });
    else f.requestDuration.observe(labels, o.seconds);
  };
}
