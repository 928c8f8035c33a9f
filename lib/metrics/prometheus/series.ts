/**
 * The series table of one metric: finds the entry of a label combination with one key computation
 * and one property lookup, and tells when a series is new — the only moment the cardinality cap
 * needs to act. The record it keeps the entries in is given by its caller: prom-client's own
 * storage on the fast path (`prom-internals.ts`), a record of the adapter's own on the public path
 * (`public-store.ts`). This module knows nothing of prom-client.
 */
import type { LabelValues } from '../../core/contracts.js';
import { MetricsError, typeName } from '../../core/errors.js';

/**
 * Label value written in place of every label of the overflow series. Reserved: a label value
 * equal to it is refused (`invalid_label`), so a series showing it is always the overflow series.
 */
export const OVERFLOW_VALUE = '__overflow__';

/**
 * Key of the overflow series in a table's record. Every key of a label set is `''` or starts with
 * a label name (`name:value,…`), so no labels can hash to this one: a caller's labels never reach
 * the overflow entry through the lookup, they always take `insert`, which refuses the reserved value.
 */
const OVERFLOW_KEY = '#overflow';

/**
 * Longest label value accepted, in UTF-8 bytes (Mimir's and Cortex's default limit, so a series
 * this adapter accepts is not refused by remote storage). Without a limit, the cap bounds the
 * count of series but not their size: 1000 values of 1 MiB held 1 GiB, and a render over V8's
 * longest string (~512 MiB) failed every scrape.
 */
export const MAX_LABEL_VALUE_BYTES = 2048;

/** True when `v` is longer than `MAX_LABEL_VALUE_BYTES` in UTF-8 (a UTF-16 unit is at most 3 bytes). */
export function labelValueTooLong(v: string): boolean {
  return v.length > MAX_LABEL_VALUE_BYTES / 3 && Buffer.byteLength(v) > MAX_LABEL_VALUE_BYTES;
}

export type Labels = Record<string, string | number>;

/** `String.prototype.isWellFormed` (Node 20+; its type is in the ES2024 lib, newer than ours). */
type WellFormed = string & { isWellFormed(): boolean };

/** What a table needs to know when the cap folds a series. */
export interface CapHooks {
  /** Called for every observation redirected to the overflow series. */
  dropped(metric: string): void;
  /** Called once per metric, the first time it overflows. */
  warn(metric: string, cap: number): void;
}

export interface SeriesTable<E> {
  /** The entry for `labels`, created (or folded into the overflow entry) when new. Throws on unknown labels. */
  get(labels: LabelValues): E;
  /**
   * The entry for `labels`, created when new and the cap leaves room; `undefined` (nothing folded,
   * nothing counted as dropped) when it does not.
   */
  getIfRoom(labels: LabelValues): E | undefined;
  /** Removes one series; true when it existed. */
  remove(labels: LabelValues): boolean;
  /** Series currently stored (including the overflow series once it exists). */
  size(): number;
}

/** The object holding a table's record; read on every call, since prom-client's `reset()` swaps it. */
export interface SeriesOwner<E> {
  hashMap: Record<string, E>;
}

/** Storage-neutral series operations of one metric, as the instruments use them. */
export interface SeriesStore {
  /** Removes one series; true when it existed. */
  remove(labels: LabelValues): boolean;
  /** Series currently stored (including the overflow series once it exists). */
  size(): number;
}

/** A counter's or gauge's series. */
export interface ScalarStore extends SeriesStore {
  add(labels: LabelValues, delta: number): void;
  set(labels: LabelValues, value: number): void;
  /**
   * Sets a series read from a source at scrape time (a cache's hit count) to `value`; false, and
   * nothing written or counted as dropped, when it is new and the cap has no room: an absolute
   * value cannot go into the overflow series (which sums what was folded), and folding it again
   * at every scrape counted one drop per scrape.
   */
  setIfRoom(labels: LabelValues, value: number): boolean;
}

/** A histogram's series; `exemplar` is already checked (enabled, within the OpenMetrics size). */
export interface HistogramStore extends SeriesStore {
  observe(labels: LabelValues, value: number, exemplar: Readonly<Record<string, string>> | undefined): void;
}

/** What every store of a metric is built from. */
export interface StoreOptions {
  /** Exposed metric name, for messages and the cap hooks. */
  metric: string;
  labelNames: readonly string[];
  cap: number;
  hooks: CapHooks;
}

/** Throws on a label name the metric did not declare. */
function declaredOnly(metric: string, labelNames: readonly string[]): (labels: LabelValues) => void {
  const declared: Record<string, true> = Object.create(null);
  for (const n of labelNames) declared[n] = true;
  return (labels) => {
    for (const k in labels) {
      if (declared[k] !== true) {
        throw new MetricsError(
          'invalid_label',
          `label "${k}" is not declared by metric "${metric}" (declared: ${labelNames.join(', ') || 'none'})`,
        );
      }
    }
  };
}

/**
 * Throws what writing `labels` to a new series would throw (`invalid_label`: a name the metric did
 * not declare, a value no series can have), writing nothing. For label sets given before the write:
 * `histogram.startTimer(labels)` used to accept anything and throw only when the timer ended — far
 * from the mistake, often in a `finally` or a response listener where the throw was an uncaught
 * exception, and the measurement was lost. The checks are `insert`'s (kept there, inline, for speed).
 */
export function checkLabels(metric: string, labelNames: readonly string[], labels: LabelValues): void {
  declaredOnly(metric, labelNames)(labels);
  for (const n of labelNames) {
    // Not `{}.toString`: a label left out is absent (see `ownLabelsOnly`).
    const v = Object.hasOwn(labels, n) || !(n in Object.prototype) ? labels[n] : undefined;
    if (v === undefined) continue;
    let problem: string | undefined;
    if (typeof v !== 'string' && typeof v !== 'number')
      problem = `must be a string or number, received ${typeName(v)}`;
    else if (typeof v === 'string' && !(v as WellFormed).isWellFormed())
      problem = 'is not well-formed UTF-16 (it has a lone surrogate)';
    else if (v === OVERFLOW_VALUE)
      problem = `has the value "${OVERFLOW_VALUE}", which is reserved for the series the cardinality cap folds new label combinations into`;
    else if (typeof v === 'string' && labelValueTooLong(v))
      problem = `is ${Buffer.byteLength(v)} bytes long (UTF-8); label values are limited to ${MAX_LABEL_VALUE_BYTES} bytes`;
    if (problem !== undefined)
      throw new MetricsError('invalid_label', `label "${n}" of metric "${metric}" ${problem}`);
  }
}

/**
 * Whether a label name is one every object inherits from `Object.prototype` (`constructor`,
 * `toString`, `valueOf`, `hasOwnProperty`, …): valid Prometheus label names, but `{}.constructor`
 * is a function, so a call leaving such a label out — `inc()`, `inc({})`, or the other labels
 * only — was refused (`label "constructor" … must be a string or number, received function`),
 * and a series without it would have been written with the function's source as its value.
 */
export function inheritsLabelName(labelNames: readonly string[]): boolean {
  return labelNames.some((n) => n in Object.prototype);
}

/** The caller's own labels on an object inheriting nothing (for metrics `inheritsLabelName` holds for). */
const ownOnly = (labels: LabelValues): LabelValues =>
  Object.assign(Object.create(null) as Record<string, string | number>, labels);

/**
 * `store` reading only the labels the caller set on the object it passes (see
 * `inheritsLabelName`); used only for metrics declaring such a name, so the others pay nothing.
 */
export function ownLabelsOnly<S extends ScalarStore | HistogramStore>(store: S): S {
  if ('observe' in store) {
    const s = store as HistogramStore;
    return {
      ...store,
      observe: (l, v, e) => s.observe(ownOnly(l), v, e),
      remove: (l) => s.remove(ownOnly(l)),
    } as S;
  }
  const s = store as ScalarStore;
  return {
    ...store,
    add: (l, d) => s.add(ownOnly(l), d),
    set: (l, v) => s.set(ownOnly(l), v),
    setIfRoom: (l, v) => s.setIfRoom(ownOnly(l), v),
    remove: (l) => s.remove(ownOnly(l)),
  } as S;
}

/** A table's mutable state; `insert` is the cold path, so it reads everything from here. */
interface TableState<E> {
  readonly metric: string;
  readonly owner: SeriesOwner<E>;
  readonly labelNames: readonly string[];
  readonly cap: number;
  readonly create: (labels: Labels) => E;
  readonly hooks: CapHooks;
  readonly overflowLabels: Labels;
  /** The label names include one objects inherit (`constructor`): series labels inherit nothing. */
  readonly inherits: boolean;
  count: number;
  /** prom-client's reset() swaps the map; recount whenever it is not the one we counted. */
  counted: Record<string, E> | undefined;
  warned: boolean;
  sinceRecount: number;
}

/** Series of `map` other than the overflow series: what the cap counts. */
function userSeries(map: Record<string, unknown>): number {
  const n = Object.keys(map).length;
  return map[OVERFLOW_KEY] === undefined ? n : n - 1;
}

/**
 * Adds the series `key` (or folds it into the overflow series when the table is full). Kept as one
 * function on purpose: split into small helpers, the benchmark's `counter.inc()` measured about 2×
 * slower (likely V8 then inlining this cold path into `get`).
 */
function insert<E>(t: TableState<E>, key: string, labels: LabelValues, fold = true): E | undefined {
  const map = t.owner.hashMap;
  if (map !== t.counted) {
    t.counted = map;
    t.count = userSeries(map);
  }
  const { metric, labelNames, cap } = t;
  for (const n of labelNames) {
    const v = labels[n];
    if (v !== undefined && typeof v !== 'string' && typeof v !== 'number') {
      throw new MetricsError(
        'invalid_label',
        `label "${n}" of metric "${metric}" must be a string or number, received ${typeName(v)}`,
      );
    }
    // A lone surrogate has no UTF-8 form: '\uD800' and '\uDC00' would both be sent as U+FFFD,
    // two series with one name and labels, of which Prometheus keeps one.
    if (typeof v === 'string' && !(v as WellFormed).isWellFormed()) {
      throw new MetricsError(
        'invalid_label',
        `label "${n}" of metric "${metric}" is not well-formed UTF-16 (it has a lone surrogate)`,
      );
    }
    // The overflow series' own value: a user series holding it would be read as (or, once the cap
    // is reached, counted into) the overflow series, uncounted in the dropped total.
    if (v === OVERFLOW_VALUE) {
      throw new MetricsError(
        'invalid_label',
        `label "${n}" of metric "${metric}" has the value "${OVERFLOW_VALUE}", which is reserved for the series the cardinality cap folds new label combinations into`,
      );
    }
    // Checked only for a new series: one already stored passed it.
    if (typeof v === 'string' && labelValueTooLong(v)) {
      throw new MetricsError(
        'invalid_label',
        `label "${n}" of metric "${metric}" is ${Buffer.byteLength(v)} bytes long (UTF-8); label values are limited to ${MAX_LABEL_VALUE_BYTES} bytes`,
      );
    }
  }
  // prom-client's remove() (called by other code) does not tell us; recount now and then while full.
  if (t.count >= cap && (t.sinceRecount++ & 1023) === 0) t.count = userSeries(map);
  if (t.count >= cap) {
    if (!fold) return undefined;
    t.hooks.dropped(metric);
    if (!t.warned) {
      t.warned = true;
      t.hooks.warn(metric, cap);
    }
    let e = map[OVERFLOW_KEY];
    if (e === undefined) {
      // Not counted: the cap bounds the label combinations callers made, so a series removed
      // later frees a place (the overflow series took one, and a freed place stayed full).
      e = t.create({ ...t.overflowLabels });
      map[OVERFLOW_KEY] = e;
    }
    return e;
  }
  // Copy: the caller may reuse or mutate its labels object. A '' value is no label (as the key
  // and Prometheus have it).
  const copy: Labels = t.inherits ? Object.create(null) : {};
  for (const n of labelNames) {
    const v = labels[n];
    if (v !== undefined && v !== '') copy[n] = v;
  }
  const e = t.create(copy);
  map[key] = e;
  t.count++;
  return e;
}

/**
 * A table over `owner.hashMap`, keyed by `hash`. `create(labels)` builds a fresh entry. `cap`
 * bounds the number of distinct series; beyond it observations go to one series whose labels are
 * all `__overflow__`.
 */
export function createSeriesTable<E>(
  opts: StoreOptions & {
    owner: SeriesOwner<E>;
    hash: (labels: LabelValues) => string;
    create: (labels: Labels) => E;
  },
): SeriesTable<E> {
  const { metric, owner, hash, labelNames } = opts;
  const checkKeys = declaredOnly(metric, labelNames);
  const overflowLabels: Labels = {};
  for (const n of labelNames) overflowLabels[n] = OVERFLOW_VALUE;
  const t: TableState<E> = {
    ...opts,
    overflowLabels,
    inherits: inheritsLabelName(labelNames),
    count: 0,
    counted: undefined,
    warned: false,
    sinceRecount: 0,
  };
  /** `hash(labels)`; a value its key function refuses (not a string or number) is invalid_label. */
  const keyOf = (labels: LabelValues): string => {
    try {
      return hash(labels);
    } catch (err) {
      for (const n of labelNames) {
        const v = labels[n];
        if (v !== undefined && typeof v !== 'string' && typeof v !== 'number')
          throw new MetricsError(
            'invalid_label',
            `label "${n}" of metric "${metric}" must be a string or number, received ${typeName(v)}`,
          );
      }
      throw err;
    }
  };
  return {
    get(labels) {
      checkKeys(labels);
      const key = keyOf(labels);
      const e = owner.hashMap[key];
      return e !== undefined ? e : (insert(t, key, labels) as E);
    },
    getIfRoom(labels) {
      checkKeys(labels);
      const key = keyOf(labels);
      const e = owner.hashMap[key];
      return e !== undefined ? e : insert(t, key, labels, false);
    },
    remove(labels) {
      checkKeys(labels);
      const key = keyOf(labels);
      const map = owner.hashMap;
      if (map[key] === undefined) return false;
      delete map[key];
      if (map === t.counted) t.count--;
      return true;
    },
    size() {
      return Object.keys(owner.hashMap).length;
    },
  };
}
