/**
 * Counter, gauge and histogram over prom-client metrics. Values are written into prom-client's
 * entries through the series table (one lookup, cap checked only for new series), so the adapter
 * costs no more per call than prom-client's own `inc`/`observe`.
 */
import type { Counter as PromCounter, Gauge as PromGauge, Histogram as PromHistogram } from 'prom-client';
import type { Counter, Gauge, Histogram, LabelValues } from '../../core/contracts.js';
import { MetricsError, typeName } from '../../core/errors.js';
import { type CapHooks, createSeriesTable, type SeriesTable } from './series.js';

/** prom-client's entry of a counter or gauge series. */
export interface ScalarEntry {
  value: number;
  labels: Record<string, string | number>;
}

/** An exemplar as prom-client stores it (OpenMetrics: labels ≤ 128 chars, value, seconds). */
export interface ExemplarEntry {
  labelSet: Readonly<Record<string, string>>;
  value: number;
  timestamp: number;
}

/** prom-client's entry of a histogram series; `bucketExemplars` appears with the first exemplar. */
export interface HistogramEntry {
  labels: Record<string, string | number>;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
  bucketExemplars?: Record<string, ExemplarEntry | null>;
}

interface Common {
  name: string;
  labelNames: readonly string[];
  cap: number;
  hooks: CapHooks;
}

const EMPTY: LabelValues = Object.freeze({});

function badValue(metric: string, what: string, v: unknown): MetricsError {
  const shown = typeof v === 'number' ? String(v) : typeName(v);
  return new MetricsError('invalid_value', `${what} of metric "${metric}" was expected, received ${shown}`);
}

/** A counter plus the internals the adapter needs (scrape-time setting, series removal). */
export interface CounterImpl extends Counter {
  readonly table: SeriesTable<ScalarEntry>;
  /** Sets a series to an absolute value (for counters read from a source at scrape time). */
  setTotal(labels: LabelValues, value: number): void;
}

export function makeCounter(prom: PromCounter, c: Common): CounterImpl {
  const owner = prom as unknown as { hashMap: Record<string, ScalarEntry> };
  const table = createSeriesTable<ScalarEntry>({
    metric: c.name,
    owner,
    labelNames: c.labelNames,
    cap: c.cap,
    hooks: c.hooks,
    create: (labels) => ({ value: 0, labels }),
  });
  const name = c.name;
  function inc(a?: LabelValues | number, b?: number): void {
    let labels: LabelValues;
    let value: number | undefined;
    if (typeof a === 'object' && a !== null) {
      labels = a;
      value = b;
    } else {
      labels = EMPTY;
      value = a;
    }
    if (value === undefined) value = 1;
    // `>= 0` is false for NaN and non-numbers compare as NaN unless numeric strings: check the type too.
    else if (typeof value !== 'number' || !(value >= 0) || value === Number.POSITIVE_INFINITY)
      throw badValue(name, 'counter increment (a finite number ≥ 0)', value);
    table.get(labels).value += value;
  }
  return {
    inc: inc as Counter['inc'],
    table,
    setTotal(labels, value) {
      table.get(labels).value = value;
    },
  };
}

export interface GaugeImpl extends Gauge {
  readonly table: SeriesTable<ScalarEntry>;
}

export function makeGauge(prom: PromGauge, c: Common): GaugeImpl {
  const owner = prom as unknown as { hashMap: Record<string, ScalarEntry> };
  const table = createSeriesTable<ScalarEntry>({
    metric: c.name,
    owner,
    labelNames: c.labelNames,
    cap: c.cap,
    hooks: c.hooks,
    create: (labels) => ({ value: 0, labels }),
  });
  const name = c.name;
  /** The series and the numeric argument of a `(value?)` / `(labels, value?)` call; throws on a non-number. */
  const resolve = (a: LabelValues | number | undefined, b: number | undefined, dflt: number | undefined) => {
    const labelled = typeof a === 'object' && a !== null;
    let value = labelled ? b : (a as number | undefined);
    if (value === undefined) value = dflt;
    if (typeof value !== 'number') throw badValue(name, 'gauge value (a number)', value);
    target.entry = table.get(labelled ? (a as LabelValues) : EMPTY);
    return value;
  };
  // Reused out-parameter: keeps the gauge calls allocation-free.
  const target: { entry: ScalarEntry } = { entry: { value: 0, labels: {} } };
  return {
    set: ((a: LabelValues | number, b?: number) => {
      const v = resolve(a, b, undefined);
      target.entry.value = v;
    }) as Gauge['set'],
    inc: ((a?: LabelValues | number, b?: number) => {
      const v = resolve(a, b, 1);
      target.entry.value += v;
    }) as Gauge['inc'],
    dec: ((a?: LabelValues | number, b?: number) => {
      const v = resolve(a, b, 1);
      target.entry.value -= v;
    }) as Gauge['dec'],
    table,
  };
}

export interface HistogramImpl extends Histogram {
  readonly table: SeriesTable<HistogramEntry>;
  readonly buckets: readonly number[];
}

/** OpenMetrics caps an exemplar's label names + values at 128 UTF-8 characters. */
const MAX_EXEMPLAR_CHARS = 128;

function exemplarFits(labels: Readonly<Record<string, string>>): boolean {
  let n = 0;
  for (const k in labels) n += k.length + String(labels[k]).length;
  return n <= MAX_EXEMPLAR_CHARS;
}

export function makeHistogram(
  prom: PromHistogram,
  c: Common & { buckets: readonly number[]; exemplars: boolean; now: () => number; wallClock: () => number },
): HistogramImpl {
  const owner = prom as unknown as { hashMap: Record<string, HistogramEntry> };
  const bounds = c.buckets;
  const n = bounds.length;
  // prom-client keys bucket counts by the bound's string form; precomputing it avoids a number→string conversion per observation.
  const keys = bounds.map(String);
  const zero: Record<string, number> = {};
  for (const k of keys) zero[k] = 0;
  const table = createSeriesTable<HistogramEntry>({
    metric: c.name,
    owner,
    labelNames: c.labelNames,
    cap: c.cap,
    hooks: c.hooks,
    create: (labels) => ({ labels, bucketValues: { ...zero }, sum: 0, count: 0 }),
  });
  const name = c.name;
  const { exemplars, now, wallClock } = c;

  function observe(a: LabelValues | number, b?: number, exemplar?: Readonly<Record<string, string>>): void {
    let labels: LabelValues;
    let value: number | undefined;
    if (typeof a === 'number') {
      labels = EMPTY;
      value = a;
    } else {
      labels = a;
      value = b;
    }
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw badValue(name, 'observed value (a finite number)', value);
    if (typeof labels !== 'object' || labels === null) throw badValue(name, 'labels', labels);
    const e = table.get(labels);
    let i = 0;
    while (i < n && value > (bounds[i] as number)) i++;
    const key = i < n ? (keys[i] as string) : '-1';
    if (i < n) e.bucketValues[key]! += 1;
    e.sum += value;
    e.count += 1;
    if (exemplar !== undefined && exemplars && exemplarFits(exemplar)) {
      // prom-client keeps one exemplar per bucket, under the bound's key ('-1' = +Inf).
      e.bucketExemplars ??= {};
      e.bucketExemplars[key] = { labelSet: { ...exemplar }, value, timestamp: wallClock() / 1000 };
    }
  }

  return {
    observe: observe as Histogram['observe'],
    startTimer(start?: LabelValues) {
      const t0 = now();
      return (end?: LabelValues) => {
        const seconds = (now() - t0) / 1000;
        const labels = end ? { ...start, ...end } : start;
        if (labels) observe(labels, seconds);
        else observe(seconds);
        return seconds;
      };
    },
    table,
    buckets: bounds,
  };
}
