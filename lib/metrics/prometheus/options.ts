/** `createMetrics` options: what each one means, its default, and the checks run before anything is built. */
import type * as client from 'prom-client';
import type { Logger, LoggerLike } from '../../core/contracts.js';
import { MetricsError, typeName } from '../../core/errors.js';
import { readBindHost } from '../../core/host.js';
import { adaptLogger, quietLogger } from '../../core/log-binding.js';
import {
  MAX_COUNT,
  MAX_TIMER_MS,
  optionKeys,
  rejectUnknownKeys,
  shownDuration,
  shownOptionValue,
} from '../../core/options.js';
import { type EndpointAuth, type EndpointTls, resolveAuth, resolveEndpointTls } from './auth.js';
import { assertPrefixPart, builtinMetricWithLabel, checkDefaultLabels } from './names.js';
import { promClient } from './peer.js';

/** Naming scheme of the built-in metrics. */
export type MetricsNaming = 'otel' | 'legacy';

/**
 * An endpoint path a scraper can reach: "/" then printable ASCII without "?" or "#", and no "." or
 * ".." segment. (Same rule in lib/config/sections/metrics.ts.)
 */
const ENDPOINT_PATH = /^(?!.*\/\.{1,2}(?:\/|$))\/[\x21\x22\x24-\x3e\x40-\x7e]*$/;

export interface MetricsOptions {
  /** `false` gives a valid adapter that records nothing and serves no metrics. Default `true`. */
  enabled?: boolean | undefined;
  /** Port of the endpoint started by `listen()`; 0 picks a free one. Default 9464 (9090 is Prometheus's own). */
  port?: number | undefined;
  /** Interface the endpoint binds to. Default `127.0.0.1` (use `0.0.0.0` to be scraped from other hosts). */
  host?: string | undefined;
  /** Path served by `listen()`'s server. Default `/metrics`. */
  path?: string | undefined;
  /**
   * Credentials scrapers must send, on `listen()`'s server and on `handler`: `{ bearerToken }`
   * (`Authorization: Bearer …`) or `{ username, password }` (basic auth). Default none.
   */
  auth?: EndpointAuth | undefined;
  /** Serve `listen()`'s endpoint over HTTPS with this certificate (and, with `ca`, mutual TLS). Default off. */
  tls?: EndpointTls | undefined;
  /** First part of every metric name (`hyperion` → `hyperion_orders_total`). Default none. */
  namespace?: string | undefined;
  /** Second part of every metric name (`api` → `hyperion_api_orders_total`). Default none. */
  subsystem?: string | undefined;
  /**
   * Names and labels of the built-in metrics. `'otel'` (default): the OpenTelemetry conventions as
   * exported to Prometheus (`http_server_request_duration_seconds{http_request_method,http_route,
   * http_response_status_code,url_scheme,error_type}`, `db_client_connection_count{db_client_connection_state}`, …).
   * `'legacy'`: the earlier names (`requests_total`, `request_duration_seconds`, `cache_hit_rate`,
   * `db_connections_active`), for dashboards built on them; see the migration table in the README.
   */
  naming?: MetricsNaming | undefined;
  /**
   * Prefix of the built-in metrics' names only (`'hyperion'` → `hyperion_http_server_request_duration_seconds`);
   * `''` for none. Default: `namespace_subsystem`, like every other metric. Lets custom metrics keep
   * a namespace while the built-in ones keep the exact OpenTelemetry names, or the other way round.
   */
  prefix?: string | undefined;
  /** Registers prom-client's Node runtime metrics (`process_*`, `nodejs_*`, unprefixed). Default `false`. */
  collectRuntime?: boolean | undefined;
  /** Labels added to every exposed series (`{ service: 'gateway' }`). Default none. */
  defaultLabels?: Readonly<Record<string, string>> | undefined;
  /** Distinct label combinations kept per metric before new ones fold into the overflow series. Default 1000. */
  maxSeriesPerMetric?: number | undefined;
  /** Store `trace_id` exemplars on histograms (served in OpenMetrics only). Default `true`. */
  exemplars?: boolean | undefined;
  /** A prom-client registry to register into (e.g. one your app already serves). Default: a new one. */
  registry?: client.Registry | undefined;
  /**
   * Receives the one-per-metric cardinality warning, collect failures and the one warning that
   * prom-client's storage changed (`fields.code` `HYPERION_PROM_CLIENT_FALLBACK`). Default:
   * `process.emitWarning` (type `HyperionMetricsWarning`, with that code when there is one).
   */
  logger?: Pick<Logger, 'warn'> | undefined;
  /** Monotonic clock in ms for timers and request durations. Default `performance.now`. */
  now?: (() => number) | undefined;
  /**
   * Longest wait, in ms, for a scrape's collection: its `onCollect` callbacks, then the prom-client
   * `collect()` of metrics other code registered in `registry`, together. One not done by then is
   * left out of that scrape (and logged, at most once per 5 s for the same callback and error),
   * so one hanging callback cannot hold every scrape. 1 to 2^31−1. Default 5000 (half
   * Prometheus's default scrape timeout). A scrape announcing a shorter timeout (Prometheus's
   * `X-Prometheus-Scrape-Timeout-Seconds`, taken as 100 ms when shorter) gets less: that timeout
   * less a quarter of it, at most 500 ms.
   */
  collectTimeoutMs?: number | undefined;
}

/** The options checked, defaults applied. */
export interface ResolvedOptions {
  readonly enabled: boolean;
  readonly port: number;
  readonly host: string;
  readonly path: string;
  /** Expected `Authorization` header, when `auth` is set. */
  readonly authorization: string | undefined;
  /** Server TLS options, when `tls` is set. */
  readonly tls: import('node:tls').SecureContextOptions | undefined;
  /** `namespace_subsystem_` (each part only when given). */
  readonly prefix: string;
  /** Prefix of the built-in metrics (`prefix` option, else `prefix` above). */
  readonly frameworkPrefix: string;
  readonly naming: MetricsNaming;
  readonly collectRuntime: boolean;
  readonly defaultLabels: Readonly<Record<string, string>>;
  readonly cap: number;
  readonly exemplars: boolean;
  readonly registry: client.Registry;
  readonly logger: Pick<Logger, 'warn'>;
  readonly now: () => number;
  readonly collectTimeoutMs: number;
}

/** One field of a warning as text: an error as `Name: message`, at most 1000 characters. */
function fieldText(v: unknown): string {
  let t: string;
  try {
    if (v instanceof Error) t = `${v.name}: ${v.message}`;
    else if (typeof v === 'object' && v !== null) t = JSON.stringify(v) ?? String(v);
    else t = String(v);
  } catch {
    t = '[unreadable]';
  }
  return t.length > 1000 ? `${t.slice(0, 1000)}…` : t;
}

/**
 * Warnings as process warnings; a `code` field becomes the warning's code, the other fields its
 * `detail` (one `name: value` line each). They used to be dropped: "a metrics collect callback
 * failed" never said whether it threw (and what) or timed out, nor which metric or cache a
 * warning was about.
 */
const defaultWarn: Pick<Logger, 'warn'> = {
  warn: (message, fields) => {
    const code = typeof fields?.code === 'string' ? fields.code : undefined;
    const lines: string[] = [];
    for (const [k, v] of Object.entries(fields ?? {}))
      if (k !== 'code' && v !== undefined) lines.push(`${k}: ${fieldText(v)}`);
    const detail = lines.length > 0 ? lines.join('\n') : undefined;
    process.emitWarning(message, {
      type: 'HyperionMetricsWarning',
      ...(code ? { code } : {}),
      ...(detail ? { detail } : {}),
    });
  },
};

/**
 * A value given for a number, for a message: a string quoted when it reads as a number (`port:
 * '9464'` read from an environment variable was refused as "received 9464", which reads as a
 * valid port), any other string by its type only (a URL given as the port showed its password).
 */
function shownNumber(v: unknown): string {
  return typeof v === 'string' ? shownOptionValue(v) : String(v);
}

export function positiveInt(name: string, v: unknown, dflt: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max)
    throw new MetricsError(
      'invalid_option',
      // A duration option (`collectTimeoutMs: '5s'`) says what number to give for duration text.
      `${name} must be an integer from 1 to ${max}, received ${name.endsWith('Ms') ? shownDuration(v) : shownNumber(v)}`,
    );
  return v;
}

const KNOWN = optionKeys<MetricsOptions>({
  enabled: true,
  port: true,
  host: true,
  path: true,
  auth: true,
  tls: true,
  namespace: true,
  subsystem: true,
  naming: true,
  prefix: true,
  collectRuntime: true,
  defaultLabels: true,
  maxSeriesPerMetric: true,
  exemplars: true,
  registry: true,
  logger: true,
  now: true,
  collectTimeoutMs: true,
});

/** Keys of the nested option objects (unknown ones are refused like top-level ones). */
const NESTED = {
  auth: ['bearerToken', 'username', 'password'],
  tls: optionKeys<EndpointTls>({ cert: true, key: true, passphrase: true, ca: true }),
};

function checkPort(v: unknown): number {
  if (v === undefined) return 9464;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535)
    throw new MetricsError('invalid_option', `port must be an integer 0..65535, received ${shownNumber(v)}`);
  return v;
}

/**
 * `true`/`false`, or the default when not given. Anything else is refused: these used to be read
 * as `!== false` / `Boolean(v)`, so `enabled: 'false'` (a value taken from an environment
 * variable) gave a live adapter, and `collectRuntime: 'false'` registered the runtime metrics.
 */
function flag(name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean')
    throw new MetricsError('invalid_option', `${name} must be true or false, received ${typeName(v)}`);
  return v;
}

/**
 * The `logger`, `now` and `registry` objects, checked here: a logger without `warn` threw a
 * TypeError only when the first warning came (the cardinality cap reached, inside business code's
 * `inc()`), a `now` that is not a function threw in every instrumented request, and a registry
 * without prom-client's methods failed with a TypeError naming prom-client internals.
 */
function checkObjects(options: MetricsOptions): void {
  const bad = (what: string, v: unknown) =>
    new MetricsError('invalid_option', `${what}, received ${typeName(v)}`);
  const { logger, now, registry } = options as Record<string, unknown>;
  if (logger !== undefined && typeof (logger as { warn?: unknown } | null)?.warn !== 'function')
    throw bad('logger must be an object with a warn(message, fields) method', logger);
  if (now !== undefined && typeof now !== 'function')
    throw bad('now must be a function returning milliseconds', now);
  const r = registry as Partial<client.Registry> | null | undefined;
  if (
    registry !== undefined &&
    (typeof r?.getMetricsAsArray !== 'function' ||
      typeof r.registerMetric !== 'function' ||
      typeof r.getSingleMetric !== 'function')
  )
    throw bad('registry must be a prom-client Registry', registry);
}

/**
 * Refuses a default label named like a label of a built-in metric (`cache`, `http_route`, legacy
 * `status`…): that metric's series cannot carry the name twice. It failed when the built-in metric
 * was registered, with a message blaming that metric (`label name "http_route" of
 * "http_server_request_duration_seconds" is already a default label`).
 */
function checkBuiltinClash(
  defaultLabels: Readonly<Record<string, string>>,
  naming: MetricsNaming,
  frameworkPrefix: string,
): void {
  for (const label of Object.keys(defaultLabels)) {
    const metric = builtinMetricWithLabel(naming, label);
    if (metric !== undefined)
      throw new MetricsError(
        'invalid_label',
        `default label "${label}" is a label of the built-in metric "${frameworkPrefix}${metric}" (naming: ${naming}), which cannot carry it twice; give the default label another name`,
      );
  }
}

/** Checks every option (throwing `MetricsError` on the first bad one) and applies the defaults. */
export function resolveOptions(options: MetricsOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null)
    throw new MetricsError('invalid_option', `options must be an object, received ${typeName(options)}`);
  // The nested `auth` and `tls` keys too: `tls: { cert, key, clientCa }` (for `ca`) served HTTPS
  // without asking for client certificates, mutual TLS silently off.
  rejectUnknownKeys(options, KNOWN, 'invalid metrics options', NESTED);
  const enabled = flag('enabled', options.enabled, true);
  checkObjects(options);
  const port = checkPort(options.port);
  const given = options.host ?? '127.0.0.1';
  // A blank host would only fail when the endpoint binds (getaddrinfo ENOTFOUND).
  if (typeof given !== 'string' || !/^\S+$/.test(given))
    throw new MetricsError(
      'invalid_option',
      `host must be a host name or address without spaces, received ${typeof given === 'string' ? JSON.stringify(given.slice(0, 64)) : typeof given}`,
    );
  // `[::1]` copied from a URL bound nowhere (ENOTFOUND at listen()); a zone id or a malformed
  // address failed there too: read here, once (lib/core/host.ts), so the error comes at create.
  const read = readBindHost(given);
  if (typeof read === 'string') throw new MetricsError('invalid_option', `host: ${read}`);
  const host = read.bind;
  const path = options.path ?? '/metrics';
  // The endpoint compares the request's path (query dropped) with this, as the request spells it:
  // "?", "#", a space, a non-ASCII or control character (sent percent-encoded: "/m%C3%A9triques")
  // or a "." / ".." segment (removed by curl and fetch) in it would never match, and every scrape
  // would be a 404 ("/métriques" was taken, and shown in metrics.address.url).
  if (typeof path !== 'string' || !ENDPOINT_PATH.test(path))
    throw new MetricsError(
      'invalid_option',
      `path must start with "/" and hold only printable ASCII (percent-encode the rest: "/m%C3%A9triques"), no spaces, "?", "#" or "." / ".." segments, received ${JSON.stringify(path)}`,
    );
  const ns = assertPrefixPart('namespace', options.namespace);
  const sub = assertPrefixPart('subsystem', options.subsystem);
  const prefix = [ns, sub]
    .filter(Boolean)
    .map((p) => `${p}_`)
    .join('');
  const naming = options.naming ?? 'otel';
  if (naming !== 'otel' && naming !== 'legacy')
    throw new MetricsError(
      'invalid_option',
      `naming must be "otel" or "legacy", received ${JSON.stringify(naming)}`,
    );
  const own = options.prefix === undefined ? undefined : assertPrefixPart('prefix', options.prefix);
  const frameworkPrefix = own === undefined ? prefix : own === '' ? '' : `${own}_`;
  const defaultLabels = checkDefaultLabels(options.defaultLabels);
  if (enabled) checkBuiltinClash(defaultLabels, naming, frameworkPrefix);
  return {
    enabled,
    port,
    host,
    path,
    authorization: resolveAuth(options.auth),
    tls: resolveEndpointTls(options.tls),
    prefix,
    frameworkPrefix,
    naming,
    collectRuntime: flag('collectRuntime', options.collectRuntime, false),
    defaultLabels,
    cap: positiveInt('maxSeriesPerMetric', options.maxSeriesPerMetric, 1000, MAX_COUNT),
    exemplars: flag('exemplars', options.exemplars, true),
    registry: options.registry ?? new (promClient().Registry)(),
    // adaptLogger: a pino instance takes fields first; given as it is, each warning lost its
    // fields (which cache, which collect callback failed and why). It only wraps: `warn` is all
    // that is called, so a logger of `warn` alone stays valid. Quiet: a logger that threw made
    // the scrape fail (a collect callback's warning) and was an uncaught exception from timers.
    logger: options.logger ? quietLogger(adaptLogger(options.logger as LoggerLike)) : defaultWarn,
    now: options.now ?? (() => performance.now()),
    collectTimeoutMs: positiveInt('collectTimeoutMs', options.collectTimeoutMs, 5000, MAX_TIMER_MS),
  };
}
