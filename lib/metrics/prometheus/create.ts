/**
 * `createMetrics`: the core `Metrics` contract on prom-client, with the framework metrics of the
 * original (requests, latency, cache, db connections), scrape-time cache reading, a `/metrics`
 * endpoint and a per-metric cardinality cap.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import * as client from 'prom-client';
import type {
  Cache,
  Counter,
  Gauge,
  Histogram,
  HistogramOptions,
  LabelValues,
  Logger,
  MetricOptions,
  Metrics,
} from '../../core/contracts.js';
import { MetricsError } from '../../core/errors.js';
import { noopMetrics } from '../../core/noop.js';
import { MAX_COUNT, optionKeys, rejectUnknownKeys } from '../../core/options.js';
import {
  type ExpositionFormat,
  negotiate,
  OPENMETRICS_TEXT,
  type OwnMetric,
  PROMETHEUS_TEXT,
  renderRegistry,
} from './exposition.js';
import {
  type InstrumentOptions,
  instrumentHandler,
  type NodeHandler,
  type RequestObservation,
} from './http.js';
import {
  type CounterImpl,
  type GaugeImpl,
  type HistogramImpl,
  makeCounter,
  makeGauge,
  makeHistogram,
} from './instruments.js';
import {
  assertPrefixPart,
  checkBuckets,
  checkDefaultLabels,
  checkHelp,
  checkLabelNames,
  fullName,
  type MetricType,
} from './names.js';
import type { CapHooks } from './series.js';

export interface MetricsOptions {
  /** `false` gives a valid adapter that records nothing and serves no metrics. Default `true`. */
  enabled?: boolean;
  /** Port of the endpoint started by `listen()`; 0 picks a free one. Default 9464 (9090 is Prometheus's own). */
  port?: number;
  /** Interface the endpoint binds to. Default `127.0.0.1` (use `0.0.0.0` to be scraped from other hosts). */
  host?: string;
  /** Path served by `listen()`'s server. Default `/metrics`. */
  path?: string;
  /** First part of every metric name (`hyperion` → `hyperion_requests_total`). Default none. */
  namespace?: string;
  /** Second part of every metric name (`api` → `hyperion_api_requests_total`). Default none. */
  subsystem?: string;
  /** Registers prom-client's Node runtime metrics (`process_*`, `nodejs_*`, unprefixed). Default `false`. */
  collectRuntime?: boolean;
  /** Labels added to every exposed series (`{ service: 'gateway' }`). Default none. */
  defaultLabels?: Readonly<Record<string, string>>;
  /** Distinct label combinations kept per metric before new ones fold into the overflow series. Default 1000. */
  maxSeriesPerMetric?: number;
  /** Store `trace_id` exemplars on histograms (served in OpenMetrics only). Default `true`. */
  exemplars?: boolean;
  /** A prom-client registry to register into (e.g. one your app already serves). Default: a new one. */
  registry?: client.Registry;
  /** Receives the one-per-metric cardinality warning and collect failures. Default: `process.emitWarning`. */
  logger?: Pick<Logger, 'warn'>;
  /** Monotonic clock in ms for timers and request durations. Default `performance.now`. */
  now?: () => number;
}

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

interface Registered {
  type: MetricType;
  labelKey: string;
  buckets?: readonly number[];
  api: CounterImpl | GaugeImpl | HistogramImpl;
  prom: object;
}

const defaultWarn: Pick<Logger, 'warn'> = {
  warn: (message) => process.emitWarning(message, 'HyperionMetricsWarning'),
};

function positiveInt(name: string, v: unknown, dflt: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max)
    throw new MetricsError(
      'invalid_option',
      `${name} must be an integer from 1 to ${max}, received ${String(v)}`,
    );
  return v;
}

const KNOWN = optionKeys<MetricsOptions>({
  enabled: true,
  port: true,
  host: true,
  path: true,
  namespace: true,
  subsystem: true,
  collectRuntime: true,
  defaultLabels: true,
  maxSeriesPerMetric: true,
  exemplars: true,
  registry: true,
  logger: true,
  now: true,
});

function checkPort(v: unknown): number {
  if (v === undefined) return 9464;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535)
    throw new MetricsError('invalid_option', `port must be an integer 0..65535, received ${String(v)}`);
  return v;
}

/** Builds the Prometheus adapter. Nothing listens until `listen()`. */
export function createMetrics(options: MetricsOptions = {}): PrometheusMetrics {
  rejectUnknownKeys(options, KNOWN, 'invalid metrics options');
  const enabled = options.enabled !== false;
  const port = checkPort(options.port);
  const host = options.host ?? '127.0.0.1';
  const path = options.path ?? '/metrics';
  if (typeof path !== 'string' || !path.startsWith('/'))
    throw new MetricsError('invalid_option', `path must start with "/", received ${JSON.stringify(path)}`);
  const ns = assertPrefixPart('namespace', options.namespace);
  const sub = assertPrefixPart('subsystem', options.subsystem);
  const prefix = [ns, sub]
    .filter(Boolean)
    .map((p) => `${p}_`)
    .join('');
  const defaultLabels = checkDefaultLabels(options.defaultLabels);
  const reservedLabels = new Set(Object.keys(defaultLabels));
  const cap = positiveInt('maxSeriesPerMetric', options.maxSeriesPerMetric, 1000, MAX_COUNT);
  const logger = options.logger ?? defaultWarn;
  const now = options.now ?? (() => performance.now());
  const exemplars = options.exemplars !== false;
  const registry = options.registry ?? new client.Registry();

  const registered = new Map<string, Registered>();
  const own = new Map<object, OwnMetric>();
  const collectors = new Set<() => void | Promise<void>>();
  let closed = false;

  let dropped: CounterImpl | undefined;
  const hooks: CapHooks = {
    dropped: (metric) => dropped?.inc({ metric }),
    warn: (metric, max) =>
      logger.warn(
        `metric "${metric}" reached its cap of ${max} label combinations; new combinations are folded into the "__overflow__" series (counted in ${prefix}metrics_series_dropped_total)`,
        { metric, cap: max },
      ),
  };

  function register(
    type: MetricType,
    o: MetricOptions & HistogramOptions & SeriesCapOption,
  ): Registered['api'] {
    if (typeof o !== 'object' || o === null)
      throw new MetricsError('invalid_option', `${type} options must be an object`);
    const name = fullName(prefix, o.name, type);
    const help = checkHelp(name, o.help);
    const labelNames = checkLabelNames(name, type, o.labelNames, reservedLabels);
    const buckets = type === 'histogram' ? checkBuckets(name, o.buckets) : undefined;
    const maxSeries = positiveInt(`maxSeries of "${name}"`, o.maxSeries, cap);
    const labelKey = [...labelNames].sort().join(',');
    const existing = registered.get(name);
    if (existing) {
      const same =
        existing.type === type &&
        existing.labelKey === labelKey &&
        (buckets === undefined || existing.buckets?.join(',') === buckets.join(','));
      if (!same) {
        throw new MetricsError(
          'incompatible_metric',
          `metric "${name}" is already registered as a ${existing.type} with labels [${existing.labelKey}]${existing.buckets ? ` and buckets [${existing.buckets.join(', ')}]` : ''}; cannot register it as a ${type} with labels [${labelKey}]${buckets ? ` and buckets [${buckets.join(', ')}]` : ''}`,
        );
      }
      return existing.api;
    }
    if (
      registry.getSingleMetric(name) !== undefined ||
      (type === 'counter' && registry.getSingleMetric(name.slice(0, -6)))
    )
      throw new MetricsError(
        'incompatible_metric',
        `metric "${name}" is already registered in the registry by other code`,
      );
    const base = { name, help, labelNames: [...labelNames], registers: [registry] };
    const common = { name, labelNames, cap: maxSeries, hooks };
    let api: Registered['api'];
    let prom: object;
    if (type === 'counter') {
      const p = new client.Counter(base);
      api = makeCounter(p, common);
      prom = p;
    } else if (type === 'gauge') {
      const p = new client.Gauge(base);
      api = makeGauge(p, common);
      prom = p;
    } else {
      const p = new client.Histogram({ ...base, buckets: [...(buckets as number[])] });
      api = makeHistogram(p, {
        ...common,
        buckets: buckets as number[],
        exemplars,
        now,
        wallClock: Date.now,
      });
      prom = p;
    }
    registered.set(name, { type, labelKey, buckets, api, prom });
    own.set(prom, {
      type,
      name,
      help,
      labelNames,
      buckets,
      owner: prom as unknown as OwnMetric['owner'],
    });
    return api;
  }

  if (!enabled) return disabledMetrics(registry);

  dropped = register('counter', {
    name: 'metrics_series_dropped_total',
    help: 'Observations folded into the overflow series because the metric reached its label-combination cap',
    labelNames: ['metric'],
    maxSeries: Number.MAX_SAFE_INTEGER,
  }) as CounterImpl;
  const requests = register('counter', {
    name: 'requests_total',
    help: 'Total number of requests',
    labelNames: ['method', 'route', 'status'],
  }) as CounterImpl;
  const requestDuration = register('histogram', {
    name: 'request_duration_seconds',
    help: 'Request duration in seconds',
    labelNames: ['method', 'route'],
  }) as HistogramImpl;
  const cacheRequests = register('counter', {
    name: 'cache_requests_total',
    help: 'Cache reads by result (hit or miss), read from the cache at scrape time',
    labelNames: ['cache', 'result'],
  }) as CounterImpl;
  const cacheHitRate = register('gauge', {
    name: 'cache_hit_rate',
    help: 'Cache hit ratio since start (hits / reads), computed at scrape time',
    labelNames: ['cache_type'],
  }) as GaugeImpl;
  const cacheEvictions = register('counter', {
    name: 'cache_evictions_total',
    help: 'Keys evicted from the cache, read at scrape time',
    labelNames: ['cache'],
  }) as CounterImpl;
  const cacheErrors = register('counter', {
    name: 'cache_errors_total',
    help: 'Backend errors seen by the cache, read at scrape time',
    labelNames: ['cache'],
  }) as CounterImpl;
  const dbConnections = register('gauge', {
    name: 'db_connections_active',
    help: 'Active database connections',
  }) as GaugeImpl;

  if (options.collectRuntime && !registry.getSingleMetric('process_cpu_user_seconds_total')) {
    client.collectDefaultMetrics({ register: registry });
  }

  const observeRequest = (o: RequestObservation) => {
    const status = String(o.status);
    requests.inc({ method: o.method, route: o.route, status });
    const labels = { method: o.method, route: o.route };
    if (o.traceId) requestDuration.observe(labels, o.seconds, { trace_id: o.traceId });
    else requestDuration.observe(labels, o.seconds);
  };

  const watched = new Map<string, Pick<Cache, 'name' | 'stats'>>();
  const readCaches = () => {
    for (const [label, cache] of watched) {
      let s: ReturnType<NonNullable<Cache['stats']>> | undefined;
      try {
        s = cache.stats?.();
      } catch (err) {
        logger.warn(`reading stats of cache "${label}" failed`, { cache: label, error: err });
        continue;
      }
      if (!s) continue;
      cacheRequests.setTotal({ cache: label, result: 'hit' }, s.hits);
      cacheRequests.setTotal({ cache: label, result: 'miss' }, s.misses);
      cacheHitRate.set({ cache_type: label }, s.hitRatio);
      if (s.keysEvicted !== undefined) cacheEvictions.setTotal({ cache: label }, s.keysEvicted);
      if (s.errors !== undefined) cacheErrors.setTotal({ cache: label }, s.errors);
    }
  };

  const collect = async () => {
    readCaches();
    const results = await Promise.allSettled([...collectors].map(async (fn) => fn()));
    for (const r of results) {
      if (r.status === 'rejected') logger.warn('a metrics collect callback failed', { error: r.reason });
    }
  };

  const render = async (accept?: string) => {
    const format: ExpositionFormat = negotiate(accept);
    await collect();
    const body = await renderRegistry(registry, own, defaultLabels, format);
    return { contentType: format === 'openmetrics' ? OPENMETRICS_TEXT : PROMETHEUS_TEXT, body };
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    render(req.headers.accept).then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        logger.warn('rendering metrics failed', { error: err });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('metrics rendering failed\n');
      },
    );
  };

  let server: Server | undefined;
  let listening: Promise<MetricsAddress> | undefined;
  let address: MetricsAddress | undefined;
  const listen = () => {
    if (closed) return Promise.reject(new MetricsError('closed', 'metrics adapter is closed'));
    listening ??= new Promise<MetricsAddress>((resolve, reject) => {
      const srv = createServer((req, res) => {
        const url = req.url ?? '/';
        const q = url.indexOf('?');
        if ((q === -1 ? url : url.slice(0, q)) === path) handler(req, res);
        else res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found; metrics are at ${path}\n`);
      });
      server = srv;
      srv.once('error', (err) => {
        server = undefined;
        listening = undefined;
        reject(
          new MetricsError(
            'listen_failed',
            `metrics endpoint could not listen on ${host}:${port}: ${err.message}`,
            { cause: err },
          ),
        );
      });
      srv.listen(port, host, () => {
        const a = srv.address();
        const bound = typeof a === 'object' && a ? a.port : port;
        const shownHost = host.includes(':') ? `[${host}]` : host;
        address = Object.freeze({ host, port: bound, url: `http://${shownHost}:${bound}${path}` });
        resolve(address);
      });
    });
    return listening;
  };

  return {
    enabled: true,
    registry,
    framework: { requests, requestDuration, dbConnections },
    counter: (o) => register('counter', o) as Counter,
    gauge: (o) => register('gauge', o) as Gauge,
    histogram: (o) => register('histogram', o) as Histogram,
    onCollect(fn) {
      if (typeof fn !== 'function') throw new MetricsError('invalid_option', 'onCollect expects a function');
      // Wrap so the same function registered twice unsubscribes independently.
      const entry = () => fn();
      collectors.add(entry);
      return () => {
        collectors.delete(entry);
      };
    },
    instrument: (h, o) => instrumentHandler(h, o, observeRequest, now),
    observeRequest,
    watchCache(cache, o = {}) {
      const label = o.name ?? cache.name;
      if (typeof label !== 'string' || label === '')
        throw new MetricsError(
          'invalid_option',
          'watchCache needs a cache name (cache.name or options.name)',
        );
      if (watched.has(label))
        throw new MetricsError(
          'duplicate_cache',
          `a cache named "${label}" is already watched; pass { name } to tell them apart`,
        );
      watched.set(label, cache);
      return () => {
        if (watched.get(label) !== cache) return;
        watched.delete(label);
        for (const result of ['hit', 'miss']) cacheRequests.table.remove({ cache: label, result });
        cacheHitRate.table.remove({ cache_type: label });
        cacheEvictions.table.remove({ cache: label });
        cacheErrors.table.remove({ cache: label });
      };
    },
    watchDbConnections(read) {
      return this.onCollect(async () => dbConnections.set(await read()));
    },
    render,
    handler,
    listen,
    get address() {
      return address;
    },
    seriesCount(name) {
      const r = registered.get(name);
      return r ? r.api.table.size() : 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      collectors.clear();
      watched.clear();
      const srv = server;
      server = undefined;
      if (srv) {
        await new Promise<void>((resolve) => {
          srv.close(() => resolve());
          srv.closeAllConnections();
        });
      }
    },
  };
}

function disabledMetrics(registry: client.Registry): PrometheusMetrics {
  const noop = noopMetrics;
  return {
    enabled: false,
    registry,
    framework: {
      requests: noop.counter({ name: 'x', help: 'x' }),
      requestDuration: noop.histogram({ name: 'x', help: 'x' }),
      dbConnections: noop.gauge({ name: 'x', help: 'x' }),
    },
    counter: noop.counter,
    gauge: noop.gauge,
    histogram: noop.histogram,
    onCollect: noop.onCollect,
    instrument: (h) => h,
    observeRequest() {},
    watchCache: () => () => {},
    watchDbConnections: () => () => {},
    render: async () => ({ contentType: PROMETHEUS_TEXT, body: '' }),
    handler(_req, res) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('metrics are disabled\n');
    },
    listen: async () => undefined,
    address: undefined,
    seriesCount: () => 0,
    close: async () => {},
  };
}

export type { LabelValues };
