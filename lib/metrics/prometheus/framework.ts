/**
 * The built-in metrics registered at creation, named by the `naming` option and prefixed with the
 * `prefix` option: HTTP server and client latency, the cache metrics read at scrape time, database
 * connections, and the counter of observations the cardinality cap folded away.
 *
 * `naming: 'otel'` follows the stable OpenTelemetry HTTP metric conventions as exported to
 * Prometheus (dots become underscores, the unit `s` becomes `_seconds`); `naming: 'legacy'` keeps
 * the names and labels of before, for dashboards built on them.
 */
import type { HttpClientObservation } from '../../core/contracts.js';
import { MetricsError, type MetricsErrorCode } from '../../core/errors.js';
import { unknownKeyMessage } from '../../core/options.js';
import type { RequestObservation } from './http.js';
import { normalizeMethod } from './http.js';
import type { CounterImpl, GaugeImpl, HistogramImpl } from './instruments.js';
import { BUILTIN_LABELS, DEFAULT_BUCKETS } from './names.js';
import type { MetricsNaming } from './options.js';
import type { MetricRegistry } from './registry.js';
import type { DbConnections } from './types.js';

/** The OpenTelemetry HTTP conventions' default buckets for `http.*.request.duration` (seconds). */
export const HTTP_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]);

/** Status label of a response cut off before its headers went out, under `naming: 'legacy'` (nginx's "client closed request"). */
export const ABORTED_STATUS = 499;

/** The state label of `db_client_connection_count` (`used` / `idle`): `db.client.connection.state`. */
export const DB_STATE = 'db_client_connection_state';

export interface FrameworkParts {
  readonly naming: MetricsNaming;
  readonly dropped: CounterImpl;
  /** `requests_total`, legacy naming only (the OpenTelemetry naming counts with the histogram's `_count`). */
  readonly requests: CounterImpl | undefined;
  readonly requestDuration: HistogramImpl;
  readonly clientDuration: HistogramImpl;
  readonly cacheRequests: CounterImpl;
  /** `cache_hit_rate{cache_type}`, legacy naming only. */
  readonly cacheHitRate: GaugeImpl | undefined;
  readonly cacheEvictions: CounterImpl;
  readonly cacheErrors: CounterImpl;
  readonly dbConnections: GaugeImpl;
}

/**
 * Registers every built-in metric under `prefix`, `metrics_series_dropped_total` first (the cap of
 * the others counts into it).
 */
export function registerFramework(
  reg: MetricRegistry,
  naming: MetricsNaming,
  prefix: string,
): FrameworkParts {
  const legacy = naming === 'legacy';
  // One list per metric, shared with the default-label check (names.ts).
  const { otel, legacy: old } = BUILTIN_LABELS;
  const counter = (o: { name: string; help: string; labelNames?: readonly string[]; maxSeries?: number }) =>
    reg.register('counter', o, prefix, true) as CounterImpl;
  const gauge = (o: { name: string; help: string; labelNames?: readonly string[] }) =>
    reg.register('gauge', o, prefix, true) as GaugeImpl;
  const histogram = (o: {
    name: string;
    help: string;
    labelNames: readonly string[];
    buckets: readonly number[];
  }) => reg.register('histogram', o, prefix, true) as HistogramImpl;

  const dropped = counter({
    name: 'metrics_series_dropped_total',
    help: 'Observations folded into the overflow series because the metric reached its label-combination cap',
    labelNames: otel.metrics_series_dropped_total,
    maxSeries: Number.MAX_SAFE_INTEGER,
  });
  const requests = legacy
    ? counter({
        name: 'requests_total',
        help: 'Total number of requests',
        labelNames: old.requests_total,
      })
    : undefined;
  const requestDuration = legacy
    ? histogram({
        name: 'request_duration_seconds',
        help: 'Request duration in seconds',
        labelNames: old.request_duration_seconds,
        buckets: DEFAULT_BUCKETS,
      })
    : histogram({
        name: 'http_server_request_duration_seconds',
        help: 'Duration of HTTP server requests',
        labelNames: otel.http_server_request_duration_seconds,
        buckets: HTTP_DURATION_BUCKETS,
      });
  const clientDuration = histogram({
    name: 'http_client_request_duration_seconds',
    help: 'Duration of HTTP client requests',
    labelNames: otel.http_client_request_duration_seconds,
    buckets: HTTP_DURATION_BUCKETS,
  });
  const cacheRequests = counter({
    name: 'cache_requests_total',
    help: 'Cache reads by result (hit or miss), read from the cache at scrape time',
    labelNames: otel.cache_requests_total,
  });
  const cacheHitRate = legacy
    ? gauge({
        name: 'cache_hit_rate',
        help: 'Cache hit ratio since start (hits / reads), computed at scrape time',
        labelNames: old.cache_hit_rate,
      })
    : undefined;
  const cacheEvictions = counter({
    name: 'cache_evictions_total',
    help: 'Keys evicted from the cache, read at scrape time',
    labelNames: otel.cache_evictions_total,
  });
  const cacheErrors = counter({
    name: 'cache_errors_total',
    help: 'Backend errors seen by the cache, read at scrape time',
    labelNames: otel.cache_errors_total,
  });
  const dbConnections = legacy
    ? gauge({ name: 'db_connections_active', help: 'Active database connections' })
    : gauge({
        name: 'db_client_connection_count',
        help: 'Database client connections by state (idle or used)',
        // The conventions' attribute `db.client.connection.state`, as an OpenTelemetry exporter
        // writes it: the label was `state` (the attribute of the older `db.client.connections.usage`),
        // so a dashboard built for OpenTelemetry-instrumented services found the metric but not the label.
        labelNames: otel.db_client_connection_count,
      });
  return {
    naming,
    dropped,
    requests,
    requestDuration,
    clientDuration,
    cacheRequests,
    cacheHitRate,
    cacheEvictions,
    cacheErrors,
    dbConnections,
  };
}

type Labels = Record<string, string | number>;

function observe(h: HistogramImpl, labels: Labels, seconds: number, traceId: string | undefined): void {
  if (traceId) h.observe(labels, seconds, { trace_id: traceId });
  else h.observe(labels, seconds);
}

const REQUEST_FIELDS = ['method', 'route', 'status', 'seconds', 'traceId', 'scheme', 'errorType'];
const CLIENT_FIELDS = [
  'method',
  'serverAddress',
  'serverPort',
  'scheme',
  'status',
  'errorType',
  'seconds',
  'traceId',
];

/**
 * Refuses a field the observation does not have (`invalid_label`, naming it and the nearest
 * known one). A misspelt field was ignored: `{ stauts: 200 }` (or Node's `statusCode`) recorded
 * a request without a status, counted as cut off (`error_type="aborted"`), and an extra label
 * (`{ tenant: 'a' }`) was dropped without a word.
 */
function unknownFields(call: string, o: object, known: readonly string[]): void {
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length > 0)
    throw new MetricsError(
      'invalid_label',
      `${call}: ${unknown.map((k) => `\`${k.slice(0, 64)}\` ${unknownKeyMessage(k, known, 'field')}`).join('; ')} (its fields: ${known.join(', ')}; another label needs a metric of your own)`,
    );
}

/**
 * Checks what `observeRequest` cannot record faithfully: a route that is not a template string
 * (the series would lose its route label), a status that is not an HTTP status (a `"NaN"` label),
 * a duration that is negative or not finite (a corrupt `_sum`).
 */
function checkRequest(o: RequestObservation): void {
  const bad = (code: MetricsErrorCode, what: string, v: unknown) =>
    new MetricsError(
      code,
      `observeRequest: ${what} was expected, received ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`,
    );
  // Checked like observeHttpClient's: null was a TypeError, a method that is not a string threw
  // one from inside, and an empty scheme or errorType was written as no label — a request with
  // status 500 and errorType '' was counted as a success (no error_type), one without url_scheme
  // lacked a label the conventions require.
  if (typeof o !== 'object' || o === null) throw bad('invalid_value', 'an observation object', o);
  unknownFields('observeRequest', o, REQUEST_FIELDS);
  if (o.method !== undefined && typeof o.method !== 'string')
    throw bad('invalid_label', 'method (the request method, a string)', o.method);
  for (const k of ['scheme', 'errorType'] as const)
    if (o[k] !== undefined && (typeof o[k] !== 'string' || o[k] === ''))
      throw bad('invalid_label', `${k} (a non-empty string, or undefined)`, o[k]);
  if (typeof o.route !== 'string' || o.route === '')
    throw bad('invalid_label', 'route (a route template such as "/users/:id")', o.route);
  if (o.status !== undefined) {
    const n = typeof o.status === 'string' && /^\d{3}$/.test(o.status) ? Number(o.status) : o.status;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 100 || n > 999)
      throw bad(
        'invalid_value',
        'status (an HTTP status 100-999, or undefined for a response cut off)',
        o.status,
      );
  }
  if (typeof o.seconds !== 'number' || !(o.seconds >= 0) || o.seconds === Number.POSITIVE_INFINITY)
    throw bad('invalid_value', 'seconds (a finite duration >= 0)', o.seconds);
}

/**
 * Records one finished server request (with its trace id as exemplar): into
 * `http_server_request_duration_seconds`, or under legacy naming into `requests_total` and
 * `request_duration_seconds`.
 */
export function requestRecorder(f: FrameworkParts): (o: RequestObservation) => void {
  if (f.requests) {
    const requests = f.requests;
    return (o) => {
      checkRequest(o);
      // Normalized here as under the OpenTelemetry naming (instrument() does it before calling):
      // a server calling observeRequest({ method: req.method }) let clients invent label values,
      // one series per made-up method, and `get` and `GET` were two series.
      const method = normalizeMethod(o.method);
      requests.inc({ method, route: o.route, status: String(o.status ?? ABORTED_STATUS) });
      observe(f.requestDuration, { method, route: o.route }, o.seconds, o.traceId);
    };
  }
  return (o) => {
    checkRequest(o);
    const m = normalizeMethod(o.method);
    const labels: Labels = {
      http_request_method: m === 'OTHER' ? '_OTHER' : m,
      http_route: o.route,
      url_scheme: o.scheme ?? 'http',
    };
    const status = o.status === undefined ? undefined : Number(o.status);
    if (status !== undefined) labels.http_response_status_code = status;
    // The conventions' error.type: the exception's class name, else the status of a server error.
    const errorType =
      o.errorType ?? (status === undefined ? 'aborted' : status >= 500 ? String(status) : undefined);
    if (errorType !== undefined) labels.error_type = errorType;
    observe(f.requestDuration, labels, o.seconds, o.traceId);
  };
}

/**
 * Checks what `observeHttpClient` cannot record faithfully, as `checkRequest` does for the server
 * side: a duration that is negative or not finite (a corrupt `_sum`), a status or port that is
 * not one (a `"NaN"` label), a missing address or scheme (a series without that label).
 */
function checkClient(o: HttpClientObservation): void {
  const bad = (code: MetricsErrorCode, what: string, v: unknown) =>
    new MetricsError(
      code,
      `observeHttpClient: ${what} was expected, received ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`,
    );
  if (typeof o !== 'object' || o === null) throw bad('invalid_value', 'an observation object', o);
  unknownFields('observeHttpClient', o, CLIENT_FIELDS);
  if (typeof o.seconds !== 'number' || !(o.seconds >= 0) || o.seconds === Number.POSITIVE_INFINITY)
    throw bad('invalid_value', 'seconds (a finite duration >= 0)', o.seconds);
  if (
    o.status !== undefined &&
    (typeof o.status !== 'number' || !Number.isInteger(o.status) || o.status < 100 || o.status > 999)
  )
    throw bad(
      'invalid_value',
      'status (an HTTP status 100-999, or undefined when no response arrived)',
      o.status,
    );
  if (
    typeof o.serverPort !== 'number' ||
    !Number.isInteger(o.serverPort) ||
    o.serverPort < 0 ||
    o.serverPort > 65535
  )
    throw bad('invalid_value', 'serverPort (a port 0-65535)', o.serverPort);
  for (const k of ['method', 'serverAddress', 'scheme'] as const)
    if (typeof o[k] !== 'string' || o[k] === '')
      throw bad('invalid_label', `${k} (a non-empty string)`, o[k]);
  // As observeRequest's: an empty errorType was written as no label, a failed call as a success.
  if (o.errorType !== undefined && (typeof o.errorType !== 'string' || o.errorType === ''))
    throw bad('invalid_label', 'errorType (a non-empty string, or undefined)', o.errorType);
}

/** Records one outgoing call (from `tracedFetch`) into `http_client_request_duration_seconds`. */
export function clientRecorder(f: FrameworkParts): (o: HttpClientObservation) => void {
  return (o) => {
    checkClient(o);
    const m = normalizeMethod(o.method);
    const labels: Labels = {
      http_request_method: m === 'OTHER' ? '_OTHER' : m,
      server_address: o.serverAddress,
      server_port: o.serverPort,
      url_scheme: o.scheme,
    };
    if (o.status !== undefined) labels.http_response_status_code = o.status;
    if (o.errorType !== undefined) labels.error_type = o.errorType;
    observe(f.clientDuration, labels, o.seconds, o.traceId);
  };
}

/** One pool's connections, as read by a `watchDbConnections` watch and checked. */
export interface DbCounts {
  readonly used: number;
  /** `undefined`: the pool gives no idle count. */
  readonly idle: number | undefined;
}

/**
 * Checks what a `watchDbConnections` read returned: each count a number >= 0, else MetricsError
 * (the gauge keeps its last value rather than show NaN or -1).
 */
export function dbConnectionCounts(c: number | DbConnections): DbCounts {
  const check = (field: string, v: unknown): number => {
    if (typeof v === 'number' && v >= 0 && v !== Number.POSITIVE_INFINITY) return v;
    throw new MetricsError(
      'invalid_value',
      `watchDbConnections: ${field} (a connection count >= 0) was expected, received ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`,
    );
  };
  const o = typeof c === 'number' ? { used: c, idle: undefined } : (c ?? ({} as DbConnections));
  return { used: check('used', o.used), idle: o.idle === undefined ? undefined : check('idle', o.idle) };
}

/**
 * Writes the connections of every watched pool, summed by state, into
 * `db_client_connection_count{db_client_connection_state}` (or legacy `db_connections_active`, the
 * used ones). The metric has no pool label, so two pools watched on one adapter (a primary and a
 * replica) are one total: each watch used to write its own pool's counts over the other's, and
 * the gauge showed whichever read finished last.
 */
export function dbConnectionsWriter(f: FrameworkParts): (pools: Iterable<DbCounts>) => void {
  const sum = (pools: Iterable<DbCounts>) => {
    let used = 0;
    let idle: number | undefined;
    for (const p of pools) {
      used += p.used;
      if (p.idle !== undefined) idle = (idle ?? 0) + p.idle;
    }
    return { used, idle };
  };
  if (f.naming === 'legacy') return (pools) => f.dbConnections.set(sum(pools).used);
  // Read at every scrape: a state without room under the cap (maxSeriesPerMetric 1) is left out
  // rather than folded, which overwrote the overflow series and counted a drop per scrape.
  return (pools) => {
    const { used, idle } = sum(pools);
    f.dbConnections.setIfRoom({ [DB_STATE]: 'used' }, used);
    // No pool gives `idle` (a number, or `{ used }`): no idle series, rather than the one an
    // earlier read left (a pool replaced, read as 0 meanwhile, kept showing its idle count).
    if (idle !== undefined) f.dbConnections.setIfRoom({ [DB_STATE]: 'idle' }, idle);
    else f.dbConnections.series.remove({ [DB_STATE]: 'idle' });
  };
}

/**
 * Takes the connection series out of the exposition, for a watch that stopped: its pool may be
 * gone, and the gauge kept showing its last counts for good. A watch still running writes them
 * again at the next collection, before the scrape renders.
 */
export function dbConnectionsClearer(f: FrameworkParts): () => void {
  const { series } = f.dbConnections;
  if (f.naming === 'legacy') return () => void series.remove({});
  return () => {
    series.remove({ [DB_STATE]: 'used' });
    series.remove({ [DB_STATE]: 'idle' });
  };
}
