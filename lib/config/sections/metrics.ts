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
 */
import * as v from 'valibot';
import type { MetricsOptions } from '../../metrics/prometheus/index.js';
import { port } from '../primitives.js';

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
  return o;
}
