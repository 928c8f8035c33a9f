/**
 * Counter, gauge and histogram: the core contract's argument forms and value checks, over a series
 * store that does the writing (prom-client's own entries on the fast path, its public API on the
 * fallback). On the fast path the adapter costs no more per call than prom-client's own
 * `inc`/`observe`.
 */
import type { Counter, Gauge, Histogram, LabelValues } from '../../core/contracts.js';
import { MetricsError, typeName } from '../../core/errors.js';
import { checkLabels, type HistogramStore, type ScalarStore, type SeriesStore } from './series.js';

const EMPTY: LabelValues = Object.freeze({});

function badValue(metric: string, what: string, v: unknown): MetricsError {
  const shown = typeof v === 'number' ? String(v) : typeName(v);
  return new MetricsError('invalid_value', `${what} of metric "${metric}" was expected, received ${shown}`);
}

const isLabels = (a: unknown): a is LabelValues => typeof a === 'object' && a !== null;

/**
 * A second argument after a first that is not labels (`gauge.set(5, { queue })`, the arguments
 * the wrong way round from JavaScript): the value went to the series without labels and the
 * labels were dropped without a word. `call` is `set(labels, value)` and the like.
 */
function labelsNotFirst(metric: string, call: string, a: unknown, b: unknown): MetricsError {
  const swapped = typeof a === 'number' && isLabels(b);
  return new MetricsError(
    'invalid_label',
    swapped
      ? `${call} of metric "${metric}": the labels go first, the value second; received (number, object)`
      : `${call} of metric "${metric}": a second argument is the value after the labels, but the first is not labels ({ name: value }), received ${typeName(a)}`,
  );
}

/** `remove(labels)`: a non-object (`remove()`, `remove('x')`) threw a bare TypeError or removed nothing. */
function removeSeries(name: string, store: SeriesStore, labels: unknown): void {
  if (!isLabels(labels) || Array.isArray(labels))
    throw new MetricsError(
      'invalid_label',
      `remove() of metric "${name}" expects the label values of one series ({ name: value }), received ${typeName(labels)}`,
    );
  store.remove(labels);
}

/** A counter plus what the adapter needs besides (scrape-time setting, series removal). */
export interface CounterImpl extends Counter {
  readonly series: SeriesStore;
  /**
   * Sets a series to an absolute value (for counters read from a source at scrape time); false,
   * nothing written and no drop counted, when the series is new and the cap has no room for it.
   */
  setTotal(labels: LabelValues, value: number): boolean;
}

export function makeCounter(name: string, store: ScalarStore): CounterImpl {
  function inc(a?: LabelValues | number, b?: number): void {
    const labelled = isLabels(a);
    if (!labelled && b !== undefined) throw labelsNotFirst(name, 'inc(labels, value)', a, b);
    let value = labelled ? b : a;
    if (value === undefined) value = 1;
    // `>= 0` is false for NaN and non-numbers compare as NaN unless numeric strings: check the type too.
    else if (typeof value !== 'number' || !(value >= 0) || value === Number.POSITIVE_INFINITY)
      throw badValue(name, 'counter increment (a finite number ≥ 0)', value);
    store.add(labelled ? a : EMPTY, value);
  }
  return {
    inc: inc as Counter['inc'],
    remove: (labels) => removeSeries(name, store, labels),
    series: store,
    setTotal: (labels, value) => store.setIfRoom(labels, value),
  };
}

export interface GaugeImpl extends Gauge {
  readonly series: SeriesStore;
  /**
   * Sets a series read at scrape time; false, nothing written and no drop counted, when the
   * series is new and the cap has no room for it (see `CounterImpl.setTotal`).
   */
  setIfRoom(labels: LabelValues, value: number): boolean;
}

export function makeGauge(name: string, store: ScalarStore): GaugeImpl {
  /** The numeric argument of a `(value?)` / `(labels, value?)` call; throws on a non-number. */
  const numberArg = (
    a: LabelValues | number | undefined,
    b: number | undefined,
    dflt: number | undefined,
    call: string,
  ) => {
    if (b !== undefined && !isLabels(a)) throw labelsNotFirst(name, call, a, b);
    let value = isLabels(a) ? b : a;
    if (value === undefined) value = dflt;
    if (typeof value !== 'number') throw badValue(name, 'gauge value (a number)', value);
    return value;
  };
  /**
   * The step of `inc`/`dec`: a finite number. `set` takes NaN and ±Inf (values Prometheus carries),
   * but a step of NaN made the series NaN for good (every later inc/dec kept it), and +Inf then
   * -Inf made it NaN too: nothing short of a `set` brought it back.
   */
  const stepArg = (a: LabelValues | number | undefined, b: number | undefined, call: string) => {
    const v = numberArg(a, b, 1, call);
    if (!Number.isFinite(v)) throw badValue(name, 'gauge increment (a finite number)', v);
    return v;
  };
  const labelsOf = (a: LabelValues | number | undefined) => (isLabels(a) ? a : EMPTY);
  return {
    set: ((a: LabelValues | number, b?: number) => {
      const v = numberArg(a, b, undefined, 'set(labels, value)');
      store.set(labelsOf(a), v);
    }) as Gauge['set'],
    inc: ((a?: LabelValues | number, b?: number) => {
      const v = stepArg(a, b, 'inc(labels, value)');
      store.add(labelsOf(a), v);
    }) as Gauge['inc'],
    dec: ((a?: LabelValues | number, b?: number) => {
      const v = stepArg(a, b, 'dec(labels, value)');
      store.add(labelsOf(a), -v);
    }) as Gauge['dec'],
    setIfRoom: (labels, value) => store.setIfRoom(labels, value),
    remove: (labels) => removeSeries(name, store, labels),
    series: store,
  };
}

export interface HistogramImpl extends Histogram {
  readonly series: SeriesStore;
}

/** OpenMetrics caps an exemplar's label names + values at 128 UTF-8 characters. */
const MAX_EXEMPLAR_CHARS = 128;

const EXEMPLAR_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Throws unless `exemplar` is an object of label name → string: the renderer writes its names as
 * they are, and one bad name (`{ 'trace id': … }`) made the OpenMetrics exposition unparsable, so
 * Prometheus failed every scrape of the endpoint.
 */
function checkExemplar(metric: string, exemplar: unknown): void {
  if (typeof exemplar !== 'object' || exemplar === null || Array.isArray(exemplar))
    throw new MetricsError(
      'invalid_label',
      `exemplar of metric "${metric}" must be an object of label name → string, received ${typeName(exemplar)}`,
    );
  for (const k in exemplar) {
    const v = (exemplar as Record<string, unknown>)[k];
    if (!EXEMPLAR_LABEL.test(k))
      throw new MetricsError(
        'invalid_label',
        `exemplar label name ${JSON.stringify(k)} of metric "${metric}" must match [a-zA-Z_][a-zA-Z0-9_]*`,
      );
    if (typeof v !== 'string' || !(v as string & { isWellFormed(): boolean }).isWellFormed())
      throw new MetricsError(
        'invalid_label',
        `exemplar label "${k}" of metric "${metric}" must be a well-formed string, received ${typeName(v)}`,
      );
    // Prometheus's OpenMetrics parser refuses a NUL in an exemplar's value ("expected label value,
    // got INVALID") and with it the whole scrape (it takes one in a series' label value).
    if (v.includes('\u0000'))
      throw new MetricsError(
        'invalid_label',
        `exemplar label "${k}" of metric "${metric}" holds a NUL character, which Prometheus refuses in an exemplar`,
      );
  }
}

/**
 * Whether an exemplar's label names and values hold at most 128 characters (code points, as
 * OpenMetrics and Prometheus count them). A character beyond the BMP is two UTF-16 units: counted
 * as units, an exemplar of 70 emoji was dropped though Prometheus stores it.
 */
function exemplarFits(labels: Readonly<Record<string, string>>): boolean {
  let units = 0;
  for (const k in labels) units += k.length + String(labels[k]).length;
  // Never fewer units than code points: a trace id (40 units) is decided here.
  if (units <= MAX_EXEMPLAR_CHARS) return true;
  let n = 0;
  for (const k in labels) {
    n += k.length; // [a-zA-Z_][a-zA-Z0-9_]*: one unit per character
    for (const _ of String(labels[k])) n++;
  }
  return n <= MAX_EXEMPLAR_CHARS;
}

export function makeHistogram(
  name: string,
  store: HistogramStore,
  c: { exemplars: boolean; now: () => number; labelNames: readonly string[] },
): HistogramImpl {
  const { exemplars, now, labelNames } = c;
  function observe(a: LabelValues | number, b?: number, exemplar?: Readonly<Record<string, string>>): void {
    if (typeof a === 'number' && b !== undefined) throw labelsNotFirst(name, 'observe(labels, value)', a, b);
    const labels = typeof a === 'number' ? EMPTY : a;
    const value = typeof a === 'number' ? a : b;
    // The value the caller gave: `observe('0.5')` (a number read from text) said "received
    // undefined", naming the missing second argument rather than the string.
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw badValue(name, 'observed value (a finite number)', isLabels(a) || a === undefined ? value : a);
    if (!isLabels(labels)) throw badValue(name, 'labels', labels);
    if (exemplar !== undefined) checkExemplar(name, exemplar);
    const kept = exemplar !== undefined && exemplars && exemplarFits(exemplar) ? exemplar : undefined;
    store.observe(labels, value, kept);
  }
  return {
    observe: observe as Histogram['observe'],
    startTimer(start?: LabelValues) {
      // Checked now, as observe() would check them, rather than only when the timer ends (where
      // the throw lost the measurement, often as an uncaught exception in a listener).
      if (start !== undefined && start !== null) {
        if (!isLabels(start)) throw badValue(name, 'labels', start);
        checkLabels(name, labelNames, start);
      }
      const t0 = now();
      return (end?: LabelValues) => {
        const seconds = (now() - t0) / 1000;
        const labels = end ? { ...start, ...end } : start;
        if (labels) observe(labels, seconds);
        else observe(seconds);
        return seconds;
      };
    },
    series: store,
  };
}
