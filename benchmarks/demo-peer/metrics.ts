/**
 * Metrics of the raw-SDK twin on prom-client directly: one OpenMetrics registry per service (the
 * format exemplars need) with the `service` default label, Node runtime metrics, and the metrics
 * the demo's Prometheus adapter exposes under the same names, labels and buckets — HTTP server and
 * client latency with the trace id as exemplar, cache and database-pool metrics read at scrape
 * time, and the business metrics the handlers register through the core `Metrics` contract.
 * (The adapter's own extras are not copied: its cardinality cap and spans_dropped_total.)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import client from 'prom-client';
import type { DbConnections } from '../../demo/instrumentation.js';
import type {
  Cache,
  Counter,
  Gauge,
  Histogram,
  HistogramOptions,
  LabelValues,
  MetricOptions,
  Metrics,
} from '../../lib/core/contracts.js';

/** The OpenTelemetry HTTP conventions' default duration buckets, seconds. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

type Labels = Record<string, string | number>;

export interface PeerMetrics {
  /** The core contract of `ctx.metrics`. */
  readonly metrics: Metrics;
  /** Records one server request / one outgoing call (exemplar `trace_id` when sampled). */
  observeServer(labels: Labels, seconds: number, traceId: string | undefined): void;
  observeClient(labels: Labels, seconds: number, traceId: string | undefined): void;
  watchCache(cache: Cache, name: string): void;
  watchDbConnections(read: () => DbConnections): void;
  /** `GET /metrics`. */
  scrape(req: IncomingMessage, res: ServerResponse): void;
}

export function createPeerMetrics(service: string): PeerMetrics {
  const registry = new client.Registry<client.OpenMetricsContentType>();
  registry.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
  const registers = [registry];
  registry.setDefaultLabels({ service });
  client.collectDefaultMetrics({ register: registry });
  const beforeScrape: (() => void | Promise<void>)[] = [];

  const histogram = (name: string, help: string, labelNames: readonly string[], buckets: number[]) =>
    new client.Histogram({ name, help, labelNames, buckets, enableExemplars: true, registers });
  const server = histogram(
    'http_server_request_duration_seconds',
    'Duration of HTTP server requests',
    ['http_request_method', 'http_route', 'http_response_status_code', 'url_scheme', 'error_type'],
    HTTP_BUCKETS,
  );
  const clientDuration = histogram(
    'http_client_request_duration_seconds',
    'Duration of HTTP client requests',
    [
      'http_request_method',
      'server_address',
      'server_port',
      'url_scheme',
      'http_response_status_code',
      'error_type',
    ],
    HTTP_BUCKETS,
  );
  const observe = (h: client.Histogram, labels: Labels, value: number, traceId: string | undefined) =>
    h.observe({ labels, value, exemplarLabels: traceId ? { trace_id: traceId } : {} });

  // Cache counters are totals the caches keep: set at scrape time (reset, then the total).
  const caches = new Map<string, Cache>();
  const cacheRequests = new client.Counter({
    name: 'cache_requests_total',
    help: 'Cache reads by result (hit or miss), read from the cache at scrape time',
    labelNames: ['cache', 'result'],
    registers,
  });
  const cacheEvictions = new client.Counter({
    name: 'cache_evictions_total',
    help: 'Keys evicted from the cache, read at scrape time',
    labelNames: ['cache'],
    registers,
  });
  const cacheErrors = new client.Counter({
    name: 'cache_errors_total',
    help: 'Backend errors seen by the cache, read at scrape time',
    labelNames: ['cache'],
    registers,
  });
  beforeScrape.push(() => {
    for (const c of [cacheRequests, cacheEvictions, cacheErrors]) c.reset();
    for (const [name, cache] of caches) {
      const s = cache.stats?.();
      if (!s) continue;
      cacheRequests.inc({ cache: name, result: 'hit' }, s.hits);
      cacheRequests.inc({ cache: name, result: 'miss' }, s.misses);
      if (s.keysEvicted !== undefined) cacheEvictions.inc({ cache: name }, s.keysEvicted);
      if (s.errors !== undefined) cacheErrors.inc({ cache: name }, s.errors);
    }
  });
  const dbConnections = new client.Gauge({
    name: 'db_client_connection_count',
    help: 'Database client connections by state (idle or used)',
    labelNames: ['db_client_connection_state'],
    registers,
  });

  const metrics: Metrics = {
    // prom-client's counter and gauge take the contract's calls as they are.
    counter: (o: MetricOptions) =>
      new client.Counter({ ...o, labelNames: o.labelNames ?? [], registers }) as Counter,
    gauge: (o: MetricOptions) =>
      new client.Gauge({ ...o, labelNames: o.labelNames ?? [], registers }) as Gauge,
    histogram(o: HistogramOptions): Histogram {
      const h = histogram(o.name, o.help, o.labelNames ?? [], [
        ...(o.buckets ?? [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
      ]);
      return {
        observe(labels: LabelValues | number, value?: number, exemplar?: Readonly<Record<string, string>>) {
          if (typeof labels === 'number') h.observe({ value: labels });
          else h.observe({ labels, value: value ?? 0, exemplarLabels: exemplar ?? {} });
        },
        startTimer: (labels) => h.startTimer(labels),
      };
    },
    onCollect(fn) {
      beforeScrape.push(fn);
      return () => {
        const i = beforeScrape.indexOf(fn);
        if (i !== -1) beforeScrape.splice(i, 1);
      };
    },
    async close() {
      beforeScrape.length = 0;
      registry.clear();
    },
  };

  return {
    metrics,
    observeServer: (labels, seconds, traceId) => observe(server, labels, seconds, traceId),
    observeClient: (labels, seconds, traceId) => observe(clientDuration, labels, seconds, traceId),
    watchCache: (cache, name) => void caches.set(name, cache),
    watchDbConnections(read) {
      beforeScrape.push(() => {
        const { used, idle } = read();
        dbConnections.set({ db_client_connection_state: 'used' }, used);
        if (idle !== undefined) dbConnections.set({ db_client_connection_state: 'idle' }, idle);
      });
    },
    scrape(_req, res) {
      (async () => {
        for (const fn of beforeScrape) await fn();
        const body = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType }).end(body);
      })().catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    },
  };
}
