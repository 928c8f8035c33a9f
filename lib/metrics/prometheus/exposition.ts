/**
 * Exposition in the Prometheus text format (0.0.4) and OpenMetrics 1.0, chosen per scrape by the
 * Accept header. Rendered here rather than by prom-client's registry because its registry has one
 * content type and renames counters in place when it renders OpenMetrics; one registry can serve
 * both formats this way, with exemplars only where the format carries them.
 */
import type { Registry } from 'prom-client';
import { MetricsError } from '../../core/errors.js';
import { processWide } from '../../core/process-wide.js';
import { withTimeout } from '../../core/timeout.js';
import { foreignNames, type MetricType } from './names.js';
import {
  type ExemplarEntry,
  type HistogramEntry,
  type InternalStore,
  infExemplarKey,
  type ScalarEntry,
} from './prom-internals.js';
import { conditionOf, type WarnLimiter } from './warn-limit.js';

export const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_TEXT = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

export type ExpositionFormat = 'text' | 'openmetrics';

/**
 * Picks the format for an Accept header: OpenMetrics when the client ranks it at least as high
 * as plain text (Prometheus does), else the Prometheus text format (curl, browsers, no header).
 */
export function negotiate(accept: string | undefined): ExpositionFormat {
  if (!accept || !/openmetrics/i.test(accept)) return 'text';
  let om = 0;
  let text = 0;
  for (const range of accept.split(',')) {
    const parts = range.split(';');
    const type = (parts[0] ?? '').trim().toLowerCase();
    let q = 1;
    for (let i = 1; i < parts.length; i++) {
      const [k, v] = (parts[i] as string).split('=');
      if (k?.trim().toLowerCase() === 'q') q = Number(v);
    }
    if (!Number.isFinite(q)) q = 0;
    if (type === 'application/openmetrics-text') om = Math.max(om, q);
    else if (type === 'text/plain' || type === 'text/*' || type === '*/*') text = Math.max(text, q);
  }
  return om > 0 && om >= text ? 'openmetrics' : 'text';
}

/** What the renderer knows about a metric registered through the adapter. */
export interface OwnMetric {
  readonly type: MetricType;
  /** Exposed name (counters end in `_total`). */
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly buckets?: readonly number[] | undefined;
  /** The metric's series, read at every render. */
  readonly entries: InternalStore['entries'];
}

const NEEDS_ESCAPE = /[\\\n"]/;

function escapeLabel(v: string | number): string {
  if (typeof v === 'number') return String(v);
  return NEEDS_ESCAPE.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v;
}

function escapeHelp(h: string, om: boolean): string {
  const t = h.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return om ? t.replace(/"/g, '\\"') : t;
}

function num(v: number): string {
  if (Number.isFinite(v)) return String(v);
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? '+Inf' : '-Inf';
}

/** `a="x",b="y"` for the declared labels present in `labels` (no braces). */
function labelPairs(labelNames: readonly string[], labels: Record<string, string | number>): string {
  let s = '';
  for (const n of labelNames) {
    const v = labels[n];
    if (v === undefined) continue;
    s += s === '' ? `${n}="${escapeLabel(v)}"` : `,${n}="${escapeLabel(v)}"`;
  }
  return s;
}

function braces(a: string, b: string): string {
  if (a === '') return b === '' ? '' : `{${b}}`;
  return b === '' ? `{${a}}` : `{${a},${b}}`;
}

/** An exemplar label name as OpenMetrics has it (no escaping exists for a name). */
const EXEMPLAR_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Why Prometheus would refuse an exemplar of other code's metric, or `undefined`. prom-client takes
 * any label names and values for an exemplar (it checks their length only): a name such as
 * `trace-id`, or a NUL in a value, made the OpenMetrics exposition unparsable, and Prometheus
 * failed the whole scrape (`expected equal, got "INVALID"`: every series of the target lost).
 * The adapter's own histograms refuse such exemplars when they are observed (instruments.ts).
 */
function foreignExemplarProblem(e: ExemplarEntry): string | undefined {
  for (const k in e.labelSet) {
    if (!EXEMPLAR_LABEL_NAME.test(k))
      return `its label name ${JSON.stringify(k.slice(0, 64))} is not [a-zA-Z_][a-zA-Z0-9_]*`;
    if (String(e.labelSet[k]).includes('\u0000')) return `its label "${k}" holds a NUL character`;
  }
  return undefined;
}

function exemplarSuffix(e: ExemplarEntry | null | undefined): string {
  if (!e) return '';
  let l = '';
  for (const k in e.labelSet) l += `${l === '' ? '' : ','}${k}="${escapeLabel(e.labelSet[k] as string)}"`;
  return ` # {${l}} ${num(e.value)} ${e.timestamp}`;
}

/** Base units a family name may end in; OpenMetrics declares them in a `# UNIT` line. */
const UNIT_SUFFIX = /_(seconds|bytes)$/;

/** The unit of a family named `…_seconds` or `…_bytes` (OpenMetrics wants the unit as the name's suffix). */
export function unitOf(family: string): string | undefined {
  return UNIT_SUFFIX.exec(family)?.[1];
}

function header(family: string, type: string, help: string, om: boolean): string {
  if (!om) return `# HELP ${family} ${escapeHelp(help, false)}\n# TYPE ${family} ${type}\n`;
  const unit = unitOf(family);
  return `# TYPE ${family} ${type}\n${unit ? `# UNIT ${family} ${unit}\n` : ''}# HELP ${family} ${escapeHelp(help, true)}\n`;
}

function renderOwn(m: OwnMetric, om: boolean, defaults: string): string {
  const map = m.entries();
  if (m.type === 'histogram') {
    const bounds = m.buckets ?? [];
    const keys = bounds.map(String);
    const infKey = infExemplarKey(keys);
    let out = header(m.name, 'histogram', m.help, om);
    for (const k in map) {
      const e = map[k] as HistogramEntry;
      const own = labelPairs(m.labelNames, e.labels);
      const base = braces(own, defaults);
      const prefix = own === '' ? defaults : defaults === '' ? own : `${own},${defaults}`;
      const sep = prefix === '' ? '' : ',';
      const ex = om ? e.bucketExemplars : undefined;
      let acc = 0;
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        acc += e.bucketValues[key] ?? 0;
        out += `${m.name}_bucket{${prefix}${sep}le="${key}"} ${acc}${ex ? exemplarSuffix(ex[key]) : ''}\n`;
      }
      out += `${m.name}_bucket{${prefix}${sep}le="+Inf"} ${e.count}${ex ? exemplarSuffix(ex[infKey]) : ''}\n`;
      out += `${m.name}_sum${base} ${num(e.sum)}\n${m.name}_count${base} ${e.count}\n`;
    }
    return out;
  }
  // OpenMetrics names the counter family without `_total` and its sample with it.
  const family = om && m.type === 'counter' ? m.name.slice(0, -'_total'.length) : m.name;
  let out = header(family, m.type, m.help, om);
  for (const k in map) {
    const e = map[k] as ScalarEntry;
    out += `${m.name}${braces(labelPairs(m.labelNames, e.labels), defaults)} ${num(e.value)}\n`;
  }
  return out;
}

interface ForeignValue {
  labels?: Record<string, string | number> | undefined;
  value: number;
  metricName?: string | undefined;
  exemplar?: ExemplarEntry | null | undefined;
}

/** What prom-client's `get()` gives for a metric. */
export interface ForeignData {
  name: string;
  help: string;
  type: string;
  values?: ForeignValue[] | undefined;
}

/**
 * What the renderer needs to keep names unique: registration refuses a metric of ours whose names
 * another metric already exposes, but prom-client takes a metric other code registers later under
 * a name one of ours exposes (their counter `orders` beside our `orders_total`, their gauge
 * `http_server_request_duration_seconds_count`), and the scrape then held a duplicate family,
 * which Prometheus refuses whole (every series of the target lost).
 */
/** A prom-client metric as the name checks read it. */
type ForeignMetric = { name: string; type?: string };

export interface NameGuard {
  /** Whether `metric` was registered through the adapter (rendered through `get()` on the public-API fallback). */
  isOurs(metric: object): boolean;
  /** The adapter's metric that exposes `name` (a sample or family name), if any. */
  exposedBy(name: string): string | undefined;
  /** `metric` (other code's) is left out of the scrape: it would expose `exposed`, which `holder` exposes. */
  clashed(metric: { name: string }, exposed: string, holder: string): void;
  /** An exemplar of `metric` (other code's) is left out of the scrape, for `reason`; its sample is kept. */
  exemplarLeftOut(metric: { name: string }, reason: string): void;
}

/**
 * The clash of a metric other code registered with what is already exposed: ours (always kept,
 * whenever theirs was registered) or another foreign metric rendered before it (the first
 * registered is kept). `undefined` when it clashes with nothing; its names are then taken.
 */
function foreignClash(
  metric: ForeignMetric,
  guard: NameGuard,
  taken: Map<string, string>,
): { exposed: string; holder: string } | undefined {
  const names = foreignNames(metric);
  for (const n of names) {
    const holder = guard.exposedBy(n) ?? taken.get(n);
    if (holder !== undefined) return { exposed: n, holder };
  }
  for (const n of names) taken.set(n, metric.name);
  return undefined;
}

/**
 * Gives a foreign metric's data, or `undefined` to leave it out of this scrape. `settled` resolves
 * once every read started up front has settled (or timed out).
 */
export interface ForeignReader {
  (metric: object): Promise<ForeignData | undefined>;
  readonly settled: Promise<void>;
}

/**
 * Starts `get()` of every metric of `registry` the renderer does not read itself (other code's,
 * prom-client's runtime metrics, and the adapter's own on the public-API fallback), at once and
 * each bounded by the time left until `deadline` (a `performance.now()` time): prom-client runs a
 * metric's `collect()` there, and one that hung held every scrape, one that threw failed every
 * scrape (500). Such a metric is left out of the scrape (logged); the others are served. Metrics
 * registered later are read when asked for (once: the reader may serve several scrapes).
 */
export function readForeign(
  registry: Registry,
  own: ReadonlyMap<object, OwnMetric>,
  deadline: number,
  timeoutMs: number,
  warnings: WarnLimiter,
  guard: NameGuard,
): ForeignReader {
  const read = (metric: object) => {
    const m = metric as { name?: string; get(): Promise<unknown> };
    // The scrape's one bound: what the onCollect callbacks before left of it (collectTimeoutMs, or
    // less when the scraper's own timeout is shorter).
    const left = Math.max(0, Math.ceil(deadline - performance.now()));
    return withTimeout(
      Promise.resolve().then(() => m.get()),
      left,
      () =>
        new MetricsError(
          'collect_timeout',
          `its collect() did not finish within the scrape's collection bound (${timeoutMs} ms)`,
        ),
      { unref: true },
    ).then(
      (data) => data as ForeignData,
      (err: unknown) => {
        warnings.warn(
          metric,
          conditionOf(err),
          `metric "${String(m.name)}" (registered by other code) left out of this scrape: reading it failed`,
          {
            metric: m.name,
            error: err,
          },
        );
        return undefined;
      },
    );
  };
  const started = new Map<object, Promise<ForeignData | undefined>>();
  // A metric the render leaves out for its name (see NameGuard) is not read either: its collect()
  // held every scrape up to the bound, and failed, for a value that was never served.
  const taken = new Map<string, string>();
  for (const metric of registry.getMetricsAsArray()) {
    if (own.has(metric)) continue;
    if (!guard.isOurs(metric) && foreignClash(metric as unknown as ForeignMetric, guard, taken)) continue;
    started.set(metric, read(metric));
  }
  const settled = Promise.all(started.values()).then(() => undefined);
  const reader = (metric: object) => {
    let p = started.get(metric);
    if (p === undefined) {
      p = read(metric);
      started.set(metric, p);
    }
    return p;
  };
  return Object.assign(reader, { settled });
}

/**
 * Counter names as registered, of metrics whose name prom-client may change under us: its
 * `metrics()` on an OpenMetrics registry strips `_total` from every counter's `name` in place
 * (prom-client 15). Seeded with prom-client's runtime metrics when they are made (shared by every
 * adapter and every copy of this package in the process).
 */
const registeredNames = processWide('metrics.prometheus.counterNames', () => new WeakMap<object, string>());

/** Notes the names of `metrics` as they are now (before any registry could rename them). */
export function rememberCounterNames(metrics: readonly object[]): void {
  for (const m of metrics) {
    const { name, type } = m as { name?: unknown; type?: unknown };
    if (type === 'counter' && typeof name === 'string') registeredNames.set(m, name);
  }
}

/**
 * Gives `metrics` back the counter names `rememberCounterNames` noted (prom-client's runtime
 * metrics, before they are registered anywhere again): registered under a stripped name, they were
 * no longer found under their own, so the next adapter on that registry was refused with
 * `incompatible_metric` ("the registry already holds \"process_cpu_user_seconds\" … but not all").
 */
export function restoreCounterNames(metrics: readonly object[]): void {
  for (const m of metrics) {
    const name = registeredNames.get(m);
    if (name !== undefined) (m as { name: string }).name = name;
  }
}

/**
 * The name a counter of other code was registered by. Once the `registry` handed to the adapter
 * rendered itself as OpenMetrics (served by its owner, the documented reason to pass one), its
 * counters were written to the Prometheus text format without `_total` — `jobs_total 1` became
 * `jobs 1`, and the shared runtime `process_cpu_seconds_total` became `process_cpu_seconds` on
 * every adapter —, a new series name for text scrapers and a promtool finding. prom-client keeps
 * the key a metric was registered by, which gives the name back.
 */
function registeredName(registry: Registry, metric: object, current: string): string {
  const known = registeredNames.get(metric);
  if (known !== undefined) return known;
  return !current.endsWith('_total') && registry.getSingleMetric(`${current}_total`) === metric
    ? `${current}_total`
    : current;
}

/**
 * Metrics registered on an injected registry by other code, and prom-client's runtime metrics.
 * `leftOut` is told of each exemplar Prometheus would refuse (written without it).
 */
function renderForeign(
  data: ForeignData,
  om: boolean,
  defaults: Record<string, string>,
  leftOut: (reason: string) => void,
) {
  let family = data.name;
  let sampleSuffix = '';
  if (data.type === 'counter' && om) {
    family = family.replace(/_total$/, '');
    sampleSuffix = '_total';
  }
  const type =
    om && !['counter', 'gauge', 'histogram', 'summary'].includes(data.type) ? 'unknown' : data.type;
  let out = header(family, type, data.help, om);
  for (const v of data.values ?? []) {
    // The metric's own labels, then the default labels it does not set, then the bucket's `le` (or
    // a summary's `quantile`) last: the order of the fast path's samples (prom-client puts `le` first).
    const labels: Record<string, string | number> = {};
    let bound: [string, string | number] | undefined;
    for (const k in v.labels) {
      const x = v.labels[k] as string | number;
      // Empty is absent (prom-client writes `k=""`): as on our own metrics, where a default label
      // then applies.
      if (x === '') continue;
      if (k === 'le' || k === 'quantile') bound = [k, x];
      else labels[k] = x;
    }
    for (const k in defaults) if (labels[k] === undefined) labels[k] = defaults[k] as string;
    if (bound) labels[bound[0]] = bound[1];
    const pairs = Object.entries(labels)
      .map(([k, x]) => `${k}="${escapeLabel(x)}"`)
      .join(',');
    const name = v.metricName ?? `${family}${sampleSuffix}`;
    let exemplar = '';
    if (om && v.exemplar) {
      const problem = foreignExemplarProblem(v.exemplar);
      if (problem === undefined) exemplar = exemplarSuffix(v.exemplar);
      else leftOut(problem);
    }
    out += `${name}${pairs ? `{${pairs}}` : ''} ${num(v.value)}${exemplar}\n`;
  }
  return out;
}

/** Renders every metric of `registry`; `own` maps prom-client metric objects to what the adapter registered. */
export async function renderRegistry(
  registry: Registry,
  own: ReadonlyMap<object, OwnMetric>,
  defaultLabels: Readonly<Record<string, string>>,
  format: ExpositionFormat,
  foreign: ForeignReader,
  guard: NameGuard,
): Promise<string> {
  const om = format === 'openmetrics';
  const defaults = Object.entries(defaultLabels)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(',');
  const parts: string[] = [];
  /** Names exposed by the foreign metrics rendered so far → the metric. */
  const taken = new Map<string, string>();
  for (const metric of registry.getMetricsAsArray()) {
    const m = own.get(metric);
    if (m) {
      parts.push(renderOwn(m, om, defaults));
      continue;
    }
    if (!guard.isOurs(metric)) {
      const clash = foreignClash(metric as unknown as ForeignMetric, guard, taken);
      if (clash) {
        guard.clashed(metric as unknown as { name: string }, clash.exposed, clash.holder);
        continue;
      }
    }
    const data = await foreign(metric);
    if (data?.type === 'counter') data.name = registeredName(registry, metric, data.name);
    if (data)
      parts.push(
        renderForeign(data, om, defaultLabels, (reason) =>
          guard.exemplarLeftOut(metric as unknown as { name: string }, reason),
        ),
      );
  }
  if (om) parts.push('# EOF\n');
  return parts.join(om ? '' : '\n');
}
