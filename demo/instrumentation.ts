/**
 * The instrumentation layer of a demo service: the one seam between the business code (routes,
 * caches, database, which only see the core contracts through `ctx`) and the observability
 * libraries. `hyperionInstrumentation` is the demo's own (Hyperion's OpenTelemetry and Prometheus
 * adapters, `traceHandler` and `tracedFetch`); `startService({ instrumentation })` takes another,
 * which is how the demo benchmark runs the same services hand-wired on the raw OpenTelemetry SDK
 * and prom-client (benchmarks/demo-peer/).
 */
import type { Cache, Metrics, Tracer } from '../lib/core/contracts.js';
import type { PrometheusMetrics } from '../lib/metrics/prometheus/index.js';
import { tracedFetch } from '../lib/tracing/http.js';
import type { ClientFetch, Listener, ServeRoute } from './http.js';
import { hyperionServe } from './http.js';

/** A database pool's connections by state (`db_client_connection_count{db_client_connection_state}`). */
export interface DbConnections {
  used: number;
  idle?: number;
}

export interface Instrumentation {
  /** The tracer of `ctx` (`undefined`: the core no-op); closed with the app. */
  readonly tracer: Tracer | undefined;
  /** The metrics of `ctx` (business metrics are registered on it); closed with the app. */
  readonly metrics: Metrics;
  /** Reads `cache.stats()` into the cache metrics at every scrape, labelled `name`. */
  watchCache(cache: Cache, name: string): void;
  /** Reads the pool's connections into `db_client_connection_count` at every scrape. */
  watchDbConnections(read: () => DbConnections): void;
  /** Server span and request metrics around each route. */
  readonly serve: ServeRoute;
  /** `GET /metrics`, or `undefined` when metrics are off. */
  readonly scrape: Listener | undefined;
  /** Calls to the other services: client span, propagation, client metrics. */
  readonly fetch: ClientFetch;
}

/** The demo's own layer: Hyperion's adapters (`metrics.enabled` false → no request metrics, no /metrics). */
export function hyperionInstrumentation(
  tracer: Tracer | undefined,
  metrics: PrometheusMetrics,
): Instrumentation {
  const on = metrics.enabled;
  return {
    tracer,
    metrics,
    watchCache: (cache, name) => void metrics.watchCache(cache, { name }),
    watchDbConnections: (read) => void metrics.watchDbConnections(read),
    serve: hyperionServe(on ? metrics : undefined),
    scrape: on ? metrics.handler : undefined,
    fetch: tracedFetch,
  };
}
