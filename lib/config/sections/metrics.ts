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
import { ConfigError } from '../../core/errors.js';
import { builtinMetricWithLabel, MAX_LABEL_NAMES, MAX_NAME_LENGTH } from '../../metrics/prometheus/names.js';
import { labelValueTooLong, MAX_LABEL_VALUE_BYTES } from '../../metrics/prometheus/series.js';
import {
  bindHost,
  flag,
  givenSection,
  intIn,
  MAX_COUNT,
  mapOf,
  nonEmpty,
  oneOf,
  port,
  type SectionRule,
  section,
  sectionFields,
} from '../primitives.js';
import { readConfigFile, readingAll, secretValue, serverTls } from './tls.js';

const NAME_PART = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const NAME_PHRASE = 'a name of letters, digits and "_" that does not start with a digit or "__"';
// createMetrics' limits (lib/metrics/prometheus/names.ts): names of at most 1,024 characters, at
// most 30 default labels, label values of at most 2,048 bytes. The file took longer names, more
// labels and longer values, and createAppFromConfig then failed with a MetricsError (not a
// ConfigError, and after the tracer had been built) — found by fuzzing the loader from outside.
const NAME_LENGTH_PHRASE = `${NAME_PHRASE}, at most ${MAX_NAME_LENGTH.toLocaleString('en-US')} characters`;
const namePart = v.pipe(
  v.string(NAME_PHRASE),
  v.regex(NAME_PART, NAME_PHRASE),
  v.check((s) => !s.startsWith('__'), NAME_PHRASE),
  v.maxLength(MAX_NAME_LENGTH, NAME_LENGTH_PHRASE),
);

/**
 * The longest built-in metric name after its prefix (`http_server_request_duration_seconds`, and
 * the tiered cache's `cache_tracking_confirmed_age_seconds`: lib/metrics/prometheus/framework.ts,
 * lib/cache/tiered/metrics.ts). A prefix leaving them over MAX_NAME_LENGTH fails createMetrics.
 */
const LONGEST_BUILTIN_NAME = 'http_server_request_duration_seconds'.length;

/** `namespace_subsystem_`, each part only when given, as createMetrics joins them. */
export function metricsNamePrefix(m: Record<string, unknown>): string {
  return [m.namespace, m.subsystem]
    .filter((p): p is string => typeof p === 'string' && p !== '')
    .map((p) => `${p}_`)
    .join('');
}

/**
 * Fails `at` when names under `prefix` cannot hold the longest built-in metric name. The tiered
 * cache's metrics are named under `namespace_subsystem_` whatever `prefix` says (checked at the
 * top level, where the cache section is seen).
 */
export function checkBuiltinNames(
  prefix: string,
  at: string[],
  fail: (path: string[], message: string, expected: string) => void,
  what = 'the built-in metric names',
): void {
  if (prefix.length + LONGEST_BUILTIN_NAME <= MAX_NAME_LENGTH) return;
  fail(
    at,
    `makes ${what} longer than ${MAX_NAME_LENGTH.toLocaleString('en-US')} characters (a prefix of ${prefix.length} characters, "_" included, before names of up to ${LONGEST_BUILTIN_NAME})`,
    `a name prefix of at most ${MAX_NAME_LENGTH - LONGEST_BUILTIN_NAME} characters, "_" separators included`,
  );
}

/** The prefix of the built-in metrics (`prefix`, else namespace_subsystem) against their names' limit. */
const builtinNameRule: SectionRule = (m, fail) => {
  if (m.enabled === false) return; // nothing is registered
  if (typeof m.prefix === 'string') {
    checkBuiltinNames(m.prefix === '' ? '' : `${m.prefix}_`, ['prefix'], fail);
    return;
  }
  const ns = typeof m.namespace === 'string' ? m.namespace : '';
  const sub = typeof m.subsystem === 'string' ? m.subsystem : '';
  checkBuiltinNames(metricsNamePrefix(m), [ns.length >= sub.length ? 'namespace' : 'subsystem'], fail);
};

/**
 * A default label named like a label of a built-in metric (`cache`, `http_route`, legacy `status`):
 * createMetrics refuses it (the metric's series cannot carry the name twice). The file loaded, and
 * createAppFromConfig then failed with a MetricsError.
 */
const builtinLabelRule: SectionRule = (m, fail) => {
  if (m.enabled === false || !isMapping(m.default_labels)) return;
  const naming = m.naming === 'legacy' ? 'legacy' : 'otel';
  for (const [label, value] of Object.entries(m.default_labels)) {
    if (value === '') continue; // no label (as createMetrics reads it)
    const metric = builtinMetricWithLabel(naming, label);
    if (metric !== undefined)
      failDefaultLabel(fail, ['default_labels', label], `the built-in metric ${metric} (naming: ${naming})`);
  }
};

const isMapping = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/** Fails `at`, a default label that `metric` (a phrase naming a metric that has it too) has. */
export function failDefaultLabel(fail: Parameters<SectionRule>[1], at: string[], metric: string): void {
  fail(
    at,
    `is a label of ${metric}, which cannot carry it twice`,
    'a default label name that no built-in metric has',
  );
}

const PREFIX_PHRASE = `${NAME_PHRASE}, or "" for none`;

const LABEL_PHRASE =
  'a label name of letters, digits and "_" that does not start with a digit or "__", other than le and quantile';
const PATH_PHRASE =
  'a path starting with "/", of printable ASCII (percent-encode the rest), without spaces, "?", "#" or "." / ".." segments';
/** The endpoint's rule (lib/metrics/prometheus/options.ts): any other path would answer every scrape 404. */
const ENDPOINT_PATH = /^(?!.*\/\.{1,2}(?:\/|$))\/[\x21\x22\x24-\x3e\x40-\x7e]*$/;
const TOKEN_PHRASE = 'a token without spaces (printable ASCII characters only)';
const USER_PHRASE = 'a user name without ":"';

export const metricsSection = section(
  {
    /** Default true. */
    enabled: v.optional(flag),
    /** Endpoint port, 0 to 65535; 0 = any free port. Default 9464. */
    port: v.optional(port),
    /** Interface to bind. Default 127.0.0.1. */
    host: v.optional(bindHost()),
    /** Endpoint path. Default /metrics. */
    path: v.optional(v.pipe(v.string(PATH_PHRASE), v.regex(ENDPOINT_PATH, PATH_PHRASE))),
    /** Metric name prefix, e.g. `hyperion`. */
    namespace: v.optional(namePart),
    /** Second name prefix, e.g. `api`. */
    subsystem: v.optional(namePart),
    /** Node runtime metrics (process_*, nodejs_*). Default false. */
    collect_runtime: v.optional(flag),
    /** Labels added to every series, e.g. `{ service: gateway }`. */
    default_labels: v.optional(
      mapOf(
        v.pipe(
          v.string(LABEL_PHRASE),
          v.regex(LABEL_NAME, LABEL_PHRASE),
          v.check((s) => !s.startsWith('__'), LABEL_PHRASE),
          // Histograms write `le` on their series, summaries `quantile`: a default one would clash.
          v.check((s) => s !== 'le' && s !== 'quantile', LABEL_PHRASE),
          v.maxLength(
            MAX_NAME_LENGTH,
            `${LABEL_PHRASE}, at most ${MAX_NAME_LENGTH.toLocaleString('en-US')} characters`,
          ),
        ),
        v.pipe(
          v.union(
            [v.string('text or a number'), v.pipe(v.number('text or a number'), v.transform(String))],
            'text or a number',
          ),
          v.check(
            (s) => !labelValueTooLong(s),
            `text of at most ${MAX_LABEL_VALUE_BYTES.toLocaleString('en-US')} bytes (UTF-8), or a number`,
          ),
        ),
        'a mapping of label names to values',
        { entries: MAX_LABEL_NAMES, phrase: `a mapping of at most ${MAX_LABEL_NAMES} label names to values` },
      ),
    ),
    /** Label combinations kept per metric before folding into the overflow series, 1 to 1,000,000. Default 1000. */
    max_series_per_metric: v.optional(intIn(1, MAX_COUNT)),
    /** Names of the built-in metrics: `otel` (OpenTelemetry conventions, default) or `legacy` (the names before). */
    naming: v.optional(oneOf(['otel', 'legacy'])),
    /** Prefix of the built-in metrics only (`''` for none). Default: namespace_subsystem. */
    prefix: v.optional(v.union([v.literal('', PREFIX_PHRASE), namePart], PREFIX_PHRASE)),
    /**
     * Credentials scrapers must send: `bearer_token` (or `bearer_token_file`), or `username` +
     * `password` (or `password_file`) for basic auth. Default none.
     */
    auth: v.optional(
      section(
        {
          // What the endpoint accepts: a token has no whitespace, a basic-auth user name no ":".
          bearer_token: v.optional(v.pipe(v.string(TOKEN_PHRASE), v.regex(/^[\x21-\x7e]+$/, TOKEN_PHRASE))),
          bearer_token_file: v.optional(nonEmpty('a file path')),
          username: v.optional(v.pipe(v.string(USER_PHRASE), v.regex(/^[^:]+$/, USER_PHRASE))),
          password: v.optional(nonEmpty('a non-empty password')),
          password_file: v.optional(nonEmpty('a file path')),
        },
        'scrape credentials',
        [
          (a, fail) => {
            const has = (k: string) => a[k] !== undefined;
            const bearer = has('bearer_token') || has('bearer_token_file');
            const basic = has('username') || has('password') || has('password_file');
            const ok =
              bearer !== basic &&
              (bearer
                ? has('bearer_token') !== has('bearer_token_file')
                : has('username') && has('password') !== has('password_file'));
            if (!ok)
              fail(
                [],
                'one of: bearer_token (or bearer_token_file), or username with password (or password_file)',
                'bearer or basic credentials',
              );
          },
        ],
      ),
    ),
    /** HTTPS on the endpoint: cert_file, key_file (+ key_passphrase), client_ca_file for mutual TLS. */
    tls: v.optional(serverTls),
  },
  'metrics settings',
  [builtinNameRule, builtinLabelRule],
);

export type MetricsSection = v.InferOutput<typeof metricsSection>;

/**
 * The `createMetrics` options a `metrics:` section sets (assignable to `MetricsOptions`). Declared
 * here, without prom-client types, so `hyperion/config`'s type declarations do not need
 * prom-client installed.
 */
export interface MetricsOptionsFromConfig {
  enabled?: boolean | undefined;
  port?: number | undefined;
  host?: string | undefined;
  path?: string | undefined;
  namespace?: string | undefined;
  subsystem?: string | undefined;
  collectRuntime?: boolean | undefined;
  defaultLabels?: Readonly<Record<string, string>> | undefined;
  maxSeriesPerMetric?: number | undefined;
  naming?: 'otel' | 'legacy' | undefined;
  prefix?: string | undefined;
  /** `createMetrics`'s `auth`: a bearer token or basic-auth credentials. */
  auth?: { bearerToken: string } | { username: string; password: string } | undefined;
  /** `createMetrics`'s `tls`: server certificate and key, and the scrapers' client CA (mutual TLS). */
  tls?:
    | {
        cert: string | Buffer;
        key: string | Buffer;
        passphrase?: string | undefined;
        ca?: string | Buffer | undefined;
      }
    | undefined;
}

/** Maps a validated `metrics:` section to `createMetrics` options (absent keys keep the factory defaults). */
export function metricsOptionsFromConfig(section: MetricsSection): MetricsOptionsFromConfig {
  givenSection(
    section,
    'metricsOptionsFromConfig',
    'metrics',
    'createAppFromConfig then builds no metrics adapter',
    sectionFields(metricsSection),
  );
  const o: MetricsOptionsFromConfig = {};
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
  if (section.naming !== undefined) o.naming = section.naming;
  if (section.prefix !== undefined) o.prefix = section.prefix;
  readingAll([() => mapAuth(section, o), () => mapTls(section, o)]);
  return o;
}

/** `auth`: the token or password, read from its file if one is named. */
function mapAuth(section: MetricsSection, o: MetricsOptionsFromConfig): void {
  const a = section.auth;
  if (a) {
    const token = secretValue(a.bearer_token, a.bearer_token_file, 'metrics.auth.bearer_token');
    if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) {
      // Only a file can get here (the schema checks bearer_token itself); never show the token.
      throw new ConfigError('metrics.auth.bearer_token_file: the token in the file is not usable', [
        {
          path: 'metrics.auth.bearer_token_file',
          expected:
            'a file holding one token of printable ASCII characters without spaces (a final newline is fine)',
          received:
            token === ''
              ? 'an empty file'
              : /\s/.test(token)
                ? 'a token with whitespace'
                : 'a token beyond ASCII',
          message: 'holds no usable token',
        },
      ]);
    }
    if (token !== undefined) o.auth = { bearerToken: token };
    else {
      const password = secretValue(a.password, a.password_file, 'metrics.auth.password')!;
      if (password === '') {
        throw new ConfigError('metrics.auth.password_file: the file is empty', [
          {
            path: 'metrics.auth.password_file',
            expected: 'a file holding the password (a final newline is fine)',
            received: 'an empty file',
            message: 'holds no password',
          },
        ]);
      }
      o.auth = { username: a.username!, password };
    }
  }
}

/** `tls`: the certificate, key and client CA files. */
function mapTls(section: MetricsSection, o: MetricsOptionsFromConfig): void {
  const t = section.tls;
  if (!t) return;
  let cert: Buffer | undefined;
  let key: Buffer | undefined;
  let ca: Buffer | undefined;
  readingAll([
    () => {
      cert = readConfigFile('metrics.tls.cert_file', t.cert_file);
    },
    () => {
      key = readConfigFile('metrics.tls.key_file', t.key_file);
    },
    () => {
      if (t.client_ca_file !== undefined) ca = readConfigFile('metrics.tls.client_ca_file', t.client_ca_file);
    },
  ]);
  o.tls = {
    cert: cert!,
    key: key!,
    ...(t.key_passphrase !== undefined && { passphrase: t.key_passphrase }),
    ...(ca !== undefined && { ca }),
  };
}
