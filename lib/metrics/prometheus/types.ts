/** The adapter's public types: what `createMetrics` returns and the shapes its methods take. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as client from 'prom-client';
import type {
  Cache,
  Counter,
  Gauge,
  Histogram,
  HistogramOptions,
  MetricOptions,
  Metrics,
} from '../../core/contracts.js';
import type { InstrumentOptions, NodeHandler, RequestObservation } from './http.js';

/** Extra per-metric option: overrides `maxSeriesPerMetric` for this metric. */
export interface SeriesCapOption {
  maxSeries?: number;
}

export interface MetricsAddress {
  readonly host: string;
  readonly port: number;
  /** `http://host:port/path`. */
  readonly url: string;
}

export interface WatchCacheOptions {
  /** Value of the `cache` / `cache_type` labels. Default `cache.name`. */
  name?: string;
}

/** The framework metrics, for code that records them directly. */
export interface FrameworkMetrics {
  readonly requests: Counter;
  readonly requestDuration: Histogram;
  readonly dbConnections: Gauge;
}

export interface PrometheusMetrics extends Metrics {
  counter(options: MetricOptions & SeriesCapOption): Counter;
  gauge(options: MetricOptions & SeriesCapOption): Gauge;
  histogram(options: HistogramOptions & SeriesCapOption): Histogram;
  readonly enabled: boolean;
  /** The prom-client registry holding every metric. */
  readonly registry: client.Registry;
  readonly framework: FrameworkMetrics;
  /** Wraps a `node:http` handler so each response records `requests_total` and `request_duration_seconds`. */
  instrument<Req extends IncomingMessage, Res extends ServerResponse>(
    handler: NodeHandler<Req, Res>,
    options: InstrumentOptions<Req>,
  ): NodeHandler<Req, Res>;
  /** Records one request (for servers other than `node:http`). */
  observeRequest(o: RequestObservation): void;
  /** Reads `cache.stats()` at every scrape into the cache metrics. Returns an unwatch function. */
  watchCache(cache: Pick<Cache, 'name' | 'stats'>, options?: WatchCacheOptions): () => void;
  /** Reads the active database connections at every scrape into `db_connections_active`. */
  watchDbConnections(read: () => number | Promise<number>): () => void;
  /** Runs the collect callbacks and renders the exposition for an Accept header. */
  render(accept?: string): Promise<{ contentType: string; body: string }>;
  /** A request handler serving the exposition (GET/HEAD), to mount in an existing server. */
  handler(req: IncomingMessage, res: ServerResponse): void;
  /** Starts the endpoint on `host:port` at `path`; repeated calls share one server. Disabled: resolves `undefined`. */
  listen(): Promise<MetricsAddress | undefined>;
  /** Bound address once `listen()` resolved. */
  readonly address: MetricsAddress | undefined;
  /** Stored series of a metric by exposed name (`hyperion_requests_total`), including the overflow series. */
  seriesCount(name: string): number;
  /** Stops the endpoint and the collect callbacks. Idempotent. */
  close(): Promise<void>;
}
