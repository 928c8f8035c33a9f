/** Validation of metric names, label names and buckets: misuse fails at registration, with the name in the message. */
import { MetricsError, type MetricsErrorCode } from '../../core/errors.js';
import { labelValueTooLong, MAX_LABEL_VALUE_BYTES } from './series.js';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const PREFIX_PART = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Longest metric name (as exposed: with the namespace/subsystem prefix and a counter's `_total`)
 * and longest label name, in characters (names are ASCII): Grafana Mimir's and Cortex's default
 * `-validation.max-length-label-name`, so a name accepted here is not refused by remote storage.
 * Without it a name of megabytes was accepted and written into every scrape (and every error).
 */
export const MAX_NAME_LENGTH = 1024;

/** A name for an error message: quoted, cut to 64 characters (it may be megabytes long). */
function shown(v: unknown): string {
  if (typeof v !== 'string') return JSON.stringify(v) ?? String(v);
  return v.length > 64 ? `${JSON.stringify(v.slice(0, 64))}… (${v.length} characters)` : JSON.stringify(v);
}

function nameTooLong(code: MetricsErrorCode, what: string, v: string): MetricsError {
  return new MetricsError(
    code,
    `${what} ${shown(v)} is ${v.length} characters long; names are limited to ${MAX_NAME_LENGTH}`,
  );
}

/** Default histogram buckets in seconds (the Prometheus client default set). */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Checks a namespace or subsystem part; empty means "no part". */
export function assertPrefixPart(what: 'namespace' | 'subsystem' | 'prefix', value: unknown): string {
  if (value === undefined || value === '') return '';
  if (typeof value === 'string' && value.length > MAX_NAME_LENGTH)
    throw nameTooLong('invalid_name', `metrics ${what}`, value);
  if (typeof value !== 'string' || !PREFIX_PART.test(value) || value.startsWith('__')) {
    throw new MetricsError(
      'invalid_name',
      `metrics ${what} must match [a-zA-Z_][a-zA-Z0-9_]* and not start with "__", received ${shown(value)}`,
    );
  }
  return value;
}

/**
 * Sample-name suffixes OpenMetrics gives other types (counter `_total`/`_created`, histogram and
 * summary `_bucket`/`_count`/`_sum`/`_created`, gauge histogram `_gcount`/`_gsum`): a gauge named
 * with one reads as a sample of another metric (promtool: `non-counter metrics should not have
 * "_total" suffix`, `non-histogram metrics should not have "_bucket" suffix`, …). `_info` is not in
 * the list: a gauge `build_info` set to 1 is the usual Prometheus idiom.
 */
const SAMPLE_SUFFIX = /_(total|created|bucket|count|sum|gcount|gsum)$/;

/**
 * The exposed name: `namespace_subsystem_name`. Counters always end in `_total` (added when
 * missing), so the Prometheus text and OpenMetrics expositions name the same series. A gauge or
 * histogram name ending in a suffix OpenMetrics reserves for samples is refused (`builtin` lets
 * the OpenTelemetry name `db_client_connection_count` through, see the README).
 */
export function fullName(prefix: string, name: unknown, type: MetricType, builtin = false): string {
  if (typeof name === 'string' && name.length > MAX_NAME_LENGTH)
    throw nameTooLong('invalid_name', 'metric name', name);
  if (typeof name !== 'string' || !METRIC_NAME.test(name)) {
    throw new MetricsError(
      'invalid_name',
      `metric name must match [a-zA-Z_:][a-zA-Z0-9_:]*, received ${shown(name)}`,
    );
  }
  const full = prefix + name;
  // As exposed: the prefix and a counter's `_total` count too.
  const exposed = type === 'counter' && !full.endsWith('_total') ? `${full}_total` : full;
  if (exposed.length > MAX_NAME_LENGTH) throw nameTooLong('invalid_name', 'metric name', exposed);
  // The exposed name: a counter "_" is exposed as "__total".
  if (exposed.startsWith('__')) {
    throw new MetricsError(
      'invalid_name',
      `metric name "${exposed}" starts with "__", which Prometheus reserves`,
    );
  }
  if (type === 'counter') {
    if (full === '_total')
      throw new MetricsError('invalid_name', 'counter name "_total" leaves an empty family name');
    return full.endsWith('_total') ? full : `${full}_total`;
  }
  const reserved = builtin ? null : SAMPLE_SUFFIX.exec(full);
  if (reserved) {
    throw new MetricsError(
      'invalid_name',
      `${type} name "${full}" must not end in _${reserved[1]}: OpenMetrics reserves _total, _created, _bucket, _count, _sum, _gcount and _gsum for the samples of counters, histograms and summaries (pick another name${type === 'gauge' && reserved[1] === 'total' ? ', or make it a counter' : ''})`,
    );
  }
  return full;
}

/**
 * Every name a metric occupies in either exposition: its sample names and its family names
 * (OpenMetrics names a counter's family without `_total`). Two metrics sharing one of them break
 * the exposition (a duplicate family, or a histogram sample written by another metric).
 */
export function exposedNames(type: MetricType, name: string): readonly string[] {
  if (type === 'counter') return [name, name.slice(0, -'_total'.length)];
  if (type === 'histogram') return [name, `${name}_bucket`, `${name}_sum`, `${name}_count`];
  return [name];
}

/**
 * Names a prom-client metric registered by other code exposes in either format: a counter its
 * name with and without `_total` (prom-client writes it as named; OpenMetrics adds `_total` to the
 * sample), a histogram or summary also its `_bucket`/`_sum`/`_count` samples.
 */
export function foreignNames(m: { name: string; type?: string | undefined }): string[] {
  const { name } = m;
  if (m.type === 'counter') {
    const family = name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
    return [name, family, `${family}_total`];
  }
  if (m.type === 'histogram' || m.type === 'summary')
    return [name, `${name}_bucket`, `${name}_sum`, `${name}_count`];
  return [name];
}

/**
 * Most label names one metric may declare, and most default labels: Grafana Mimir's and Cortex's
 * default `-validation.max-label-names-per-series`. Without a bound, a metric declaring 100,000
 * label names took 70 ms per new series and 25 s per scrape (every series walks every declared
 * name), and 1,000 labels of 2 KiB made each series 2 MB: at the cardinality cap an exposition
 * longer than V8's longest string, so every scrape failed.
 */
export const MAX_LABEL_NAMES = 30;

/** Label names no default label may take: the bucket and quantile labels of histograms and summaries. */
const SERIES_LABELS = new Set(['le', 'quantile']);

/** Validates declared label names; returns them as a frozen array. */
export function checkLabelNames(
  metric: string,
  type: MetricType,
  labelNames: unknown,
  reserved: ReadonlySet<string>,
): readonly string[] {
  if (labelNames === undefined) return Object.freeze([]);
  if (!Array.isArray(labelNames)) {
    throw new MetricsError('invalid_label', `labelNames of "${metric}" must be an array of strings`);
  }
  if (labelNames.length > MAX_LABEL_NAMES) {
    throw new MetricsError(
      'invalid_label',
      `"${metric}" declares ${labelNames.length} label names; at most ${MAX_LABEL_NAMES} are allowed`,
    );
  }
  const seen = new Set<string>();
  for (const l of labelNames as unknown[]) {
    if (typeof l === 'string' && l.length > MAX_NAME_LENGTH)
      throw nameTooLong('invalid_label', `label name of "${metric}"`, l);
    if (typeof l !== 'string' || !LABEL_NAME.test(l)) {
      throw new MetricsError(
        'invalid_label',
        `label name ${shown(l)} of "${metric}" must match [a-zA-Z_][a-zA-Z0-9_]*`,
      );
    }
    if (l.startsWith('__')) {
      throw new MetricsError(
        'invalid_label',
        `label name "${l}" of "${metric}" starts with "__", which Prometheus reserves`,
      );
    }
    // On a histogram it would clash with the bucket bound; on any other metric it reads as one
    // (promtool: `non-histogram metrics should not have "le" label`, `non-summary metrics should
    // not have "quantile" label`), and histogram_quantile() over it computes nonsense.
    if (SERIES_LABELS.has(l)) {
      throw new MetricsError(
        'invalid_label',
        `label name "${l}" of ${type} "${metric}" is reserved: histograms write "le" (bucket bounds) and summaries "quantile" on their series`,
      );
    }
    if (seen.has(l))
      throw new MetricsError('invalid_label', `label name "${l}" of "${metric}" is declared twice`);
    if (reserved.has(l)) {
      throw new MetricsError('invalid_label', `label name "${l}" of "${metric}" is already a default label`);
    }
    seen.add(l);
  }
  return Object.freeze([...(labelNames as string[])]);
}

/**
 * Most bounds one histogram may have: every bound is one more series per label set, so a generated
 * list (0…99,999) would turn each series into 100,000 lines of every scrape.
 */
export const MAX_BUCKETS = 1000;

/** Validates histogram buckets: finite, strictly increasing; a trailing +Inf is implied and dropped. */
export function checkBuckets(metric: string, buckets: unknown): readonly number[] {
  if (buckets === undefined) return DEFAULT_BUCKETS;
  if (!Array.isArray(buckets)) {
    throw new MetricsError('invalid_buckets', `buckets of "${metric}" must be an array of numbers`);
  }
  // Only a last +Inf is dropped (the +Inf bucket is always written): filtering every +Inf took
  // [Infinity, 1] and [1, Infinity, Infinity] as [1], where any other unsorted or repeated bound
  // is refused. A copy either way (it is frozen below; a hole stays a hole, refused below).
  const list = buckets as unknown[];
  const out = list.slice(0, list.at(-1) === Number.POSITIVE_INFINITY ? -1 : list.length);
  if (out.length === 0) throw new MetricsError('invalid_buckets', `buckets of "${metric}" must not be empty`);
  if (out.length > MAX_BUCKETS) {
    throw new MetricsError(
      'invalid_buckets',
      `"${metric}" has ${out.length} buckets, at most ${MAX_BUCKETS} are allowed (each bound is one series per label set)`,
    );
  }
  for (let i = 0; i < out.length; i++) {
    const b = out[i];
    if (typeof b !== 'number' || !Number.isFinite(b)) {
      throw new MetricsError('invalid_buckets', `bucket ${i} of "${metric}" is not a finite number`);
    }
    if (i > 0 && b <= (out[i - 1] as number)) {
      throw new MetricsError(
        'invalid_buckets',
        `buckets of "${metric}" must be strictly increasing (at index ${i})`,
      );
    }
  }
  return Object.freeze(out as number[]);
}

/**
 * Longest help text, in UTF-8 bytes: Grafana Mimir's and Cortex's default
 * `-validation.max-metadata-length` (metric name, HELP and UNIT), so remote storage keeps the
 * metadata of what this adapter takes. Without it a help text of megabytes was accepted and
 * written into every scrape, in both formats.
 */
export const MAX_HELP_BYTES = 1024;

/** Checks `help`: a non-empty string of at most `MAX_HELP_BYTES` bytes of UTF-8. */
export function checkHelp(metric: string, help: unknown): string {
  if (typeof help !== 'string' || help.trim() === '') {
    throw new MetricsError('invalid_help', `help of "${metric}" must be a non-empty string`);
  }
  // A UTF-16 unit is at most 3 bytes of UTF-8: short texts skip the byte count.
  if (help.length > MAX_HELP_BYTES / 3 && Buffer.byteLength(help) > MAX_HELP_BYTES) {
    throw new MetricsError(
      'invalid_help',
      `help of "${metric}" is ${Buffer.byteLength(help)} bytes long (UTF-8); help texts are limited to ${MAX_HELP_BYTES} bytes`,
    );
  }
  return help;
}

/** Validates default labels (names like any label, values strings). */
export function checkDefaultLabels(labels: unknown): Readonly<Record<string, string>> {
  if (labels === undefined) return Object.freeze({});
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new MetricsError('invalid_label', 'defaultLabels must be an object of label name → string value');
  }
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABEL_NAMES) {
    throw new MetricsError(
      'invalid_label',
      `defaultLabels has ${entries.length} labels; at most ${MAX_LABEL_NAMES} are allowed`,
    );
  }
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (k.length > MAX_NAME_LENGTH) throw nameTooLong('invalid_label', 'default label name', k);
    if (!LABEL_NAME.test(k) || k.startsWith('__')) {
      throw new MetricsError('invalid_label', `default label name ${shown(k)} is not a valid label name`);
    }
    if (SERIES_LABELS.has(k)) {
      throw new MetricsError(
        'invalid_label',
        `default label "${k}" is reserved: histograms (le) and summaries (quantile) write it on their series`,
      );
    }
    if (typeof v !== 'string' && typeof v !== 'number') {
      throw new MetricsError('invalid_label', `default label "${k}" must be a string or number`);
    }
    // The same limits as any label value (./series.ts), checked once here: they are on every series.
    if (typeof v === 'string' && !(v as string & { isWellFormed(): boolean }).isWellFormed())
      throw new MetricsError(
        'invalid_label',
        `default label "${k}" is not well-formed UTF-16 (it has a lone surrogate)`,
      );
    if (typeof v === 'string' && labelValueTooLong(v))
      throw new MetricsError(
        'invalid_label',
        `default label "${k}" is longer than ${MAX_LABEL_VALUE_BYTES} bytes (UTF-8), the limit of label values`,
      );
    // An empty value is no label, as Prometheus reads it and as a metric's own labels have it:
    // `region: ''` (an unset variable in the config, say) was written as `region=""` on every series.
    if (v === '') continue;
    out[k] = String(v);
  }
  return Object.freeze(out);
}

/** The client histogram's labels, in both namings (`http.client.request.duration`'s attributes). */
const CLIENT_LABELS = [
  'http_request_method',
  'server_address',
  'server_port',
  'url_scheme',
  'http_response_status_code',
  'error_type',
] as const;

/** Labels of the metrics both namings register. */
const COMMON_LABELS = {
  metrics_series_dropped_total: ['metric'],
  http_client_request_duration_seconds: CLIENT_LABELS,
  cache_requests_total: ['cache', 'result'],
  cache_evictions_total: ['cache'],
  cache_errors_total: ['cache'],
} as const;

/**
 * The built-in metrics' label names by `naming`, keyed by the metric's name without its prefix
 * (framework.ts registers them with these lists). A default label goes on every series, so one
 * named like a label of these cannot be: the metric would carry that label twice.
 */
export const BUILTIN_LABELS = {
  otel: {
    ...COMMON_LABELS,
    http_server_request_duration_seconds: [
      'http_request_method',
      'http_route',
      'http_response_status_code',
      'url_scheme',
      'error_type',
    ],
    db_client_connection_count: ['db_client_connection_state'],
  },
  legacy: {
    ...COMMON_LABELS,
    requests_total: ['method', 'route', 'status'],
    request_duration_seconds: ['method', 'route'],
    cache_hit_rate: ['cache_type'],
    db_connections_active: [],
  },
} as const;

/** The first built-in metric (name without prefix) with a label `label` under `naming`, if any. */
export function builtinMetricWithLabel(naming: 'otel' | 'legacy', label: string): string | undefined {
  const metrics: Readonly<Record<string, readonly string[]>> = BUILTIN_LABELS[naming];
  for (const name in metrics) if (metrics[name]!.includes(label)) return name;
  return undefined;
}
