/**
 * The `metrics:` section of the config file (the original YAML keys, snake_case) and its mapping
 * to `createMetrics` options.
 *
 *   metrics:
 *     enabled: true
 *     port: 9464
 *     path: /metrics
 *     namespace: hyperion
 *     subsystem: api
 *     collect_runtime: true
 *     naming: otel        # or legacy: the built-in metrics' names before the OpenTelemetry conventions
 *     prefix: ''          # prefix of the built-in metrics only; default namespace_subsystem
 */
import * as v from 'valibot';
import type { MetricsOptions } from '../../metrics/prometheus/index.js';
import { port } from '../primitives.js';
import { readConfigFile, secretValue, serverTls } from './tls.js';

const NAME_PART = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const namePart = v.pipe(
  v.string(),
  v.regex(NAME_PART, 'a name part matching [a-zA-Z_][a-zA-Z0-9_]*'),
  v.check((s) => !s.startsWith('__'), 'a name not starting with "__" (reserved by Prometheus)'),
);

export const metricsSection = v.strictObject({
  /** Default true. */
  enabled: v.optional(v.boolean()),
  /** Endpoint port; 0 = any free port. Default 9464. */
  port: v.optional(port),
  /** Interface to bind. Default 127.0.0.1. */
  host: v.optional(v.pipe(v.string(), v.minLength(1, 'a host name or address'))),
  /** Endpoint path. Default /metrics. */
  path: v.optional(v.pipe(v.string(), v.startsWith('/', 'a path starting with "/"'))),
  /** Metric name prefix, e.g. `hyperion`. */
  namespace: v.optional(namePart),
  /** Second name prefix, e.g. `api`. */
  subsystem: v.optional(namePart),
  /** Node runtime metrics (process_*, nodejs_*). Default false. */
  collect_runtime: v.optional(v.boolean()),
  /** Labels added to every series, e.g. `{ service: gateway }`. */
  default_labels: v.optional(
    v.record(
      v.pipe(
        v.string(),
        v.regex(LABEL_NAME, 'a label name matching [a-zA-Z_][a-zA-Z0-9_]*'),
        v.check((s) => !s.startsWith('__'), 'a label name not starting with "__"'),
      ),
      v.union([v.string(), v.pipe(v.number(), v.transform(String))]),
    ),
  ),
  /** Label combinations kept per metric before folding into the overflow series. Default 1000. */
  max_series_per_metric: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  /**
   * Credentials scrapers must send: `bearer_token` (or `bearer_token_file`), or `username` +
   * `password` (or `password_file`) for basic auth. Default none.
   */
  auth: v.optional(
    v.pipe(
      v.strictObject({
        bearer_token: v.optional(v.pipe(v.string(), v.minLength(1, 'a non-empty token'))),
        bearer_token_file: v.optional(v.pipe(v.string(), v.minLength(1, 'a file path'))),
        username: v.optional(v.pipe(v.string(), v.minLength(1, 'a user name'))),
        password: v.optional(v.pipe(v.string(), v.minLength(1, 'a non-empty password'))),
        password_file: v.optional(v.pipe(v.string(), v.minLength(1, 'a file path'))),
      }),
      v.check((a) => {
        const bearer = a.bearer_token !== undefined || a.bearer_token_file !== undefined;
        const basic = a.username !== undefined || a.password !== undefined || a.password_file !== undefined;
        if (bearer === basic) return false;
        if (bearer) return (a.bearer_token === undefined) !== (a.bearer_token_file === undefined);
        return a.username !== undefined && (a.password === undefined) !== (a.password_file === undefined);
      }, 'one of: bearer_token (or bearer_token_file), or username with password (or password_file)'),
    ),
  ),
  /** HTTPS on the endpoint: cert_file, key_file (+ key_passphrase), client_ca_file for mutual TLS. */
  tls: v.optional(serverTls),
  /** Names of the built-in metrics: `otel` (OpenTelemetry conventions, default) or `legacy` (the names before). */
  naming: v.optional(v.picklist(['otel', 'legacy'], 'otel or legacy')),
  /** Prefix of the built-in metrics only (`''` for none). Default: namespace_subsystem. */
  prefix: v.optional(
    v.union([v.literal(''), namePart], 'a name part matching [a-zA-Z_][a-zA-Z0-9_]*, or ""'),
  ),
});

export type MetricsSection = v.InferOutput<typeof metricsSection>;

/** Maps a validated `metrics:` section to `createMetrics` options (absent keys keep the factory defaults). */
export function metricsOptionsFromConfig(section: MetricsSection): MetricsOptions {
  const o: MetricsOptions = {};
  if (section.enabled !== undefined) o.enabled = section.enabled;
  if (section.port !== undefined) o.port = section.port;
  if (section.host !== undefined) o.host = section.host;
  if (section.path !== undefined) o.path = section.path;
  if (section.namespace !== undefined) o.namespace = section.namespace;
  if (section.subsystem !== undefined) o.subsystem = section.subsystem;
  if (section.collect_runtime !== undefined) o.collectRuntime = section.collect_runtime;
  if (section.default_labels !== undefined)
    o.defaultLabels = section.default_labels as Record<string, string>;
  if (section.max_series_per_metric !== undefined) o.maxSeriesPerMetric = section.max_series_per_metric;
  const a = section.auth;
  if (a) {
    const token = secretValue(a.bearer_token, a.bearer_token_file, 'metrics.auth.bearer_token');
    o.auth =
      token !== undefined
        ? { bearerToken: token }
        : {
            username: a.username!,
            password: secretValue(a.password, a.password_file, 'metrics.auth.password')!,
          };
  }
  const t = section.tls;
  if (t) {
    o.tls = {
      cert: readConfigFile('metrics.tls.cert_file', t.cert_file),
      key: readConfigFile('metrics.tls.key_file', t.key_file),
      ...(t.key_passphrase !== undefined && { passphrase: t.key_passphrase }),
      ...(t.client_ca_file !== undefined && {
        ca: readConfigFile('metrics.tls.client_ca_file', t.client_ca_file),
      }),
    };
  }
  if (section.naming !== undefined) o.naming = section.naming;
  if (section.prefix !== undefined) o.prefix = section.prefix;
  return o;
}
