/** The adapter's public types: what `createMetrics` returns and the shapes its methods take. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as client from 'prom-client';
import type {
  Cache,
  CloseOptions,
  Counter,
  Gauge,
  Histogram,
  HistogramOptions,
  HttpClientObservation,
  MetricOptions,
  Metrics,
} from '../../core/contracts.js';
import type { InstrumentOptions, NodeHandler, RequestObservation } from './http.js';

/** Extra per-metric option: overrides `maxSeriesPerMetric` for this metric. */
export interface SeriesCapOption {
  maxSeries?: number | undefined;
}

/** A close's budget: what a `createApp` disposer is given (`DisposeInfo`). */
export interface MetricsCloseOptions extends CloseOptions {
  /** Aborts when the budget is spent: scrapes still in progress are cut at once. */
  readonly signal?: AbortSignal | undefined;
}

/** Connections of a pool by state, for `db_client_connection_count{db_client_connection_state}`. */
export interface DbConnections {
  /** Checked out of the pool. */
  readonly used: number;
  /** Open and waiting in the pool. */
  readonly idle?: number | undefined;
}

export interface MetricsAddress {
  readonly host: string;
  readonly port: number;
  /** `http://host:port/path`. */
  readonly url: string;
}

export interface WatchCacheOptions {
  /** Value of the `cache` label (and `cache_type` under legacy naming). Default `cache.name`. */
  name?: string | undefined;
}

/** The built-in metrics, for code that records them directly (names per the `naming` option). */
export interface FrameworkMetrics {
  /** `requests_total{method,route,status}` under `naming: 'legacy'`; `undefined` under `'otel'` (count with the histogram's `_count`). */
  readonly requests: Counter | undefined;
  /** `http_server_request_duration_seconds` (`'otel'`) or `request_duration_seconds` (`'legacy'`). */
  readonly requestDuration: Histogram;
  /** `http_client_request_duration_seconds`. */
  readonly clientRequestDuration: Histogram;
  /** `db_client_connection_count{db_client_connection_state}` (`'otel'`) or `db_connections_active` (`'legacy'`). */
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
  /** Wraps a `node:http` handler so each response records `http_server_request_duration_seconds` (legacy: `requests_total` and `request_duration_seconds`). */
  instrument<Req extends IncomingMessage, Res extends ServerResponse>(
    handler: NodeHandler<Req, Res>,
    options: InstrumentOptions<Req>,
  ): NodeHandler<Req, Res>;
  /** Records one request (for servers other than `node:http`). */
  observeRequest(o: RequestObservation): void;
  /** Records one outgoing HTTP call into `http_client_request_duration_seconds` (`tracedFetch` calls it through `ctx.metrics`). */
  observeHttpClient(o: HttpClientObservation): void;
  /** Reads `cache.stats()` at every scrape into the cache metrics. Returns an unwatch function. */
  watchCache(cache: Pick<Cache, 'name' | 'stats'>, options?: WatchCacheOptions): () => void;
  /**
   * Reads a pool's connections at every scrape into `db_client_connection_count{db_client_connection_state}` (`used`,
   * and `idle` when given; a plain number counts as `used`), or `db_connections_active` (the used
   * ones) under legacy naming. Several watches (one per pool) are summed by state.
   */
  watchDbConnections(read: () => number | DbConnections | Promise<number | DbConnections>): () => void;
  /**
   * Runs the collection (onCollect callbacks, then the collect() of other code's prom-client
   * metrics, within `collectTimeoutMs` in all; joining the collection in progress, if any) and
   * renders the exposition for an Accept header. Settles within `collectTimeoutMs` plus the
   * rendering, also after `close()`, and holds the process open until then.
   */
  render(accept?: string): Promise<{ contentType: string; body: string }>;
  /**
   * A request handler serving the exposition (GET/HEAD), to mount in an existing server. After
   * `close()`: 503 (`Retry-After: 5`), nothing rendered.
   */
  handler(req: IncomingMessage, res: ServerResponse): void;
  /** Starts the endpoint on `host:port` at `path`; repeated calls share one server. Disabled: resolves `undefined`. */
  listen(): Promise<MetricsAddress | undefined>;
  /** Bound address once `listen()` resolved; `undefined` before that and again after `close()`. */
  readonly address: MetricsAddress | undefined;
  /** Stored series of a metric by exposed name (`hyperion_http_server_request_duration_seconds`), including the overflow series. */
  seriesCount(name: string): number;
  /**
   * Stops the endpoint and the collect callbacks. A scrape in progress gets its answer first
   * (up to `collectTimeoutMs` + 1 s, at most 9 s; then it is cut). With `options` (a `createApp`
   * disposer's `{ timeoutMs, signal }`: `app.defer('metrics', (info) => metrics.close(info))`),
   * that wait also fits in `timeoutMs` (less a margin) and ends when `signal` aborts. Idempotent:
   * a second call returns the first one's promise.
   */
  close(options?: MetricsCloseOptions): Promise<void>;
}
