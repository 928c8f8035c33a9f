/**
 * Registration: checks a metric's name, help, labels and buckets, returns the metric already
 * registered under that name when compatible, and otherwise builds the prom-client metric and the
 * instrument over it (on prom-client's storage, or its public API when `internals` is false).
 */
import type * as client from 'prom-client';
import type { HistogramOptions, MetricOptions } from '../../core/contracts.js';
import { MetricsError } from '../../core/errors.js';
import { MAX_COUNT, unknownKeyIssues } from '../../core/options.js';
import type { OwnMetric } from './exposition.js';
import {
  type CounterImpl,
  type GaugeImpl,
  type HistogramImpl,
  makeCounter,
  makeGauge,
  makeHistogram,
} from './instruments.js';
import {
  checkBuckets,
  checkHelp,
  checkLabelNames,
  exposedNames,
  foreignNames,
  fullName,
  type MetricType,
} from './names.js';
import { positiveInt } from './options.js';
import { promClient } from './peer.js';
import { internalHistogramStore, internalScalarStore } from './prom-internals.js';
import { publicCounterStore, publicGaugeStore, publicHistogramStore } from './public-store.js';
import { type CapHooks, inheritsLabelName, ownLabelsOnly, type StoreOptions } from './series.js';
import type { SeriesCapOption } from './types.js';

export type Instrument = CounterImpl | GaugeImpl | HistogramImpl;
export type RegisterOptions = MetricOptions & HistogramOptions & SeriesCapOption;

export interface RegistryDeps {
  readonly registry: client.Registry;
  readonly prefix: string;
  /** Default label names, which no metric may declare. */
  readonly reservedLabels: ReadonlySet<string>;
  /** Default series cap per metric. */
  readonly cap: number;
  readonly hooks: CapHooks;
  readonly exemplars: boolean;
  readonly now: () => number;
  /** Write into prom-client's storage (true) or through its public API (false). */
  readonly internals: boolean;
}

export interface MetricRegistry {
  /**
   * Registers (or returns the compatible) metric. Built-in metrics pass their `prefix` (it replaces
   * the registry's) and `builtin` (their names may end in a reserved suffix: `db_client_connection_count`).
   */
  register(type: MetricType, o: RegisterOptions, prefix?: string, builtin?: boolean): Instrument;
  /** Stored series of a metric by exposed name; 0 for an unknown name. */
  seriesCount(name: string): number;
  /** prom-client metric → what the renderer reads itself (fast path only; others render via `get()`). */
  readonly own: ReadonlyMap<object, OwnMetric>;
  /** Every prom-client metric this registry built (on either path), to take out of an injected registry at close. */
  readonly created: ReadonlySet<client.Metric>;
  /** The metric registered here that exposes `name` (a sample or family name), if any. */
  exposedBy(name: string): string | undefined;
}

interface Registered {
  type: MetricType;
  labelKey: string;
  buckets: readonly number[] | undefined;
  /** Its cardinality cap. */
  maxSeries: number;
  api: Instrument;
}

interface Checked {
  type: MetricType;
  name: string;
  help: string;
  labelNames: readonly string[];
  buckets: readonly number[] | undefined;
  maxSeries: number;
}

/** The keys of a metric's options (`MetricOptions & SeriesCapOption`, and `buckets` for a histogram). */
const METRIC_KEYS = ['name', 'help', 'labelNames', 'maxSeries'];
const HISTOGRAM_KEYS = [...METRIC_KEYS, 'buckets'];

function describe(type: MetricType, labelKey: string, buckets: readonly number[] | undefined): string {
  return `a ${type} with labels [${labelKey}]${buckets ? ` and buckets [${buckets.join(', ')}]` : ''}`;
}

/**
 * The metric registered as `c.name`, when compatible; throws when it is not. `maxSeries` is the
 * cap the caller asked for explicitly, if any: a different one was ignored (the caller got the
 * metric with the first registration's cap, and folded combinations it expected to keep).
 */
function reuse(
  existing: Registered,
  c: Checked,
  labelKey: string,
  maxSeries: number | undefined,
): Instrument {
  const same =
    existing.type === c.type &&
    existing.labelKey === labelKey &&
    (c.buckets === undefined || existing.buckets?.join(',') === c.buckets.join(','));
  if (!same) {
    throw new MetricsError(
      'incompatible_metric',
      `metric "${c.name}" is already registered as ${describe(existing.type, existing.labelKey, existing.buckets)}; cannot register it as ${describe(c.type, labelKey, c.buckets)}`,
    );
  }
  if (maxSeries !== undefined && maxSeries !== existing.maxSeries)
    throw new MetricsError(
      'incompatible_metric',
      `metric "${c.name}" is already registered with maxSeries ${existing.maxSeries}; cannot register it with maxSeries ${maxSeries}`,
    );
  return existing.api;
}

/**
 * Every prom-client metric an adapter built. One of them still in an injected registry belongs to
 * an adapter that is open (close() takes them out): a clash with it is not "other code's".
 */
const adapterMetrics = new WeakSet<object>();

/**
 * The first of `names` that a metric of the registry not registered through this adapter already
 * exposes (an injected registry's own metrics, prom-client's runtime metrics, another open
 * adapter's metrics), or `undefined`.
 */
function foreignExposing(
  registry: client.Registry,
  names: readonly string[],
  ours: ReadonlyMap<string, unknown>,
): { exposed: string; name: string; adapter: boolean } | undefined {
  const wanted = new Set(names);
  for (const m of registry.getMetricsAsArray() as unknown as { name: string; type?: string }[]) {
    if (ours.has(m.name)) continue;
    for (const n of foreignNames(m))
      if (wanted.has(n)) return { exposed: n, name: m.name, adapter: adapterMetrics.has(m) };
  }
  return undefined;
}

export function createMetricRegistry(d: RegistryDeps): MetricRegistry {
  const registered = new Map<string, Registered>();
  const own = new Map<object, OwnMetric>();
  const created = new Set<client.Metric>();
  /** Exposed name (sample or family) → the metric that exposes it. */
  const taken = new Map<string, { name: string; type: MetricType }>();

  const check = (type: MetricType, o: RegisterOptions, prefix: string, builtin: boolean): Checked => {
    if (typeof o !== 'object' || o === null)
      throw new MetricsError('invalid_option', `${type} options must be an object`);
    const name = fullName(prefix, o.name, type, builtin);
    // A misspelt key (`bukets`, `labelnames`) used to be ignored: default buckets, or no labels.
    const unknown = unknownKeyIssues(o, type === 'histogram' ? HISTOGRAM_KEYS : METRIC_KEYS);
    if (unknown.length > 0)
      throw new MetricsError(
        'invalid_option',
        `${type} "${name}" options: ${unknown.map((i) => `${i.path} ${i.message}`).join('; ')}`,
      );
    const help = checkHelp(name, o.help);
    const labelNames = checkLabelNames(name, type, o.labelNames, d.reservedLabels);
    const buckets = type === 'histogram' ? checkBuckets(name, o.buckets) : undefined;
    // The same range as `maxSeriesPerMetric`: a per-metric cap of 2^53 was no cap at all. (The
    // built-in dropped counter is uncapped: one series per metric.)
    const max = builtin ? Number.MAX_SAFE_INTEGER : MAX_COUNT;
    const maxSeries = positiveInt(`maxSeries of "${name}"`, o.maxSeries, d.cap, max);
    return { type, name, help, labelNames, buckets, maxSeries };
  };

  /** Builds the prom-client metric and the instrument over it. */
  const build = (c: Checked): Instrument => {
    const { name, help, labelNames, buckets } = c;
    const base = { name, help, labelNames: [...labelNames], registers: [d.registry] };
    const so: StoreOptions = { metric: name, labelNames, cap: c.maxSeries, hooks: d.hooks };
    const ownMetric = (prom: object, entries: OwnMetric['entries']) =>
      own.set(prom, { type: c.type, name, help, labelNames, buckets, entries });
    // A label named `constructor` or `toString`: read from the caller's own labels only.
    const ownOnly = inheritsLabelName(labelNames) ? ownLabelsOnly : <S>(s: S) => s;
    if (c.type === 'counter') {
      const p = new (promClient().Counter)(base);
      created.add(p);
      adapterMetrics.add(p);
      if (!d.internals) return makeCounter(name, ownOnly(publicCounterStore(p, so)));
      const store = internalScalarStore(p, so);
      ownMetric(p, store.entries);
      return makeCounter(name, ownOnly(store));
    }
    if (c.type === 'gauge') {
      const p = new (promClient().Gauge)(base);
      created.add(p);
      adapterMetrics.add(p);
      if (!d.internals) return makeGauge(name, ownOnly(publicGaugeStore(p, so)));
      const store = internalScalarStore(p, so);
      ownMetric(p, store.entries);
      return makeGauge(name, ownOnly(store));
    }
    const p = new (promClient().Histogram)({ ...base, buckets: [...(buckets as readonly number[])] });
    created.add(p);
    adapterMetrics.add(p);
    const opts = { exemplars: d.exemplars, now: d.now, labelNames };
    if (!d.internals) return makeHistogram(name, ownOnly(publicHistogramStore(p, so)), opts);
    const store = internalHistogramStore(p, { ...so, buckets: buckets!, wallClock: Date.now });
    ownMetric(p, store.entries);
    return makeHistogram(name, ownOnly(store), opts);
  };

  return {
    register(type, o, prefix = d.prefix, builtin = false) {
      // A name refused on its own (a gauge `jobs_total`) is invalid_name whatever is registered:
      // checked before the clashes, so the error does not depend on the order of registration.
      const c = check(type, o, prefix, builtin);
      const labelKey = [...c.labelNames].sort().join(',');
      const existing = registered.get(c.name);
      if (existing) return reuse(existing, c, labelKey, o.maxSeries === undefined ? undefined : c.maxSeries);
      const names = exposedNames(type, c.name);
      for (const n of names) {
        const other = taken.get(n);
        if (other)
          throw new MetricsError(
            'incompatible_metric',
            `${type} "${c.name}" would expose the name "${n}", which ${other.type} "${other.name}" already exposes (as a sample or family name); pick another name`,
          );
      }
      const foreign = foreignExposing(d.registry, names, registered);
      // Two open adapters on one registry with the same names (a reload that builds the new
      // adapter before closing the old one) cannot both register them: the message said "by
      // other code", which pointed away from the adapter still open.
      if (foreign)
        throw new MetricsError(
          'incompatible_metric',
          foreign.adapter
            ? `metric "${c.name}" would expose the name "${foreign.exposed}", which metric "${foreign.name}" of another open metrics adapter on this registry exposes: close that adapter first (its close() takes its metrics out of the registry), or give this one another namespace`
            : `metric "${c.name}" would expose the name "${foreign.exposed}", which metric "${foreign.name}" already registered in the registry by other code exposes`,
        );
      const api = build(c);
      registered.set(c.name, { type, labelKey, buckets: c.buckets, maxSeries: c.maxSeries, api });
      for (const n of names) taken.set(n, { name: c.name, type });
      return api;
    },
    seriesCount(name) {
      const r = registered.get(name);
      return r ? r.api.series.size() : 0;
    },
    own,
    created,
    exposedBy: (name) => taken.get(name)?.name,
  };
}
