/**
 * The series table of one metric, kept in prom-client's own storage (`metric.hashMap`, keyed the
 * way prom-client keys it) so prom-client's renderer, `remove()` and `reset()` keep working on our
 * metrics. Looking the series up ourselves lets the hot path do one hash + one property lookup,
 * and tells us when a series is new — the only moment the cardinality cap needs to act.
 */
import type { LabelValues } from '../../core/contracts.js';
import { MetricsError, typeName } from '../../core/errors.js';

/** Label value written in place of every label of the overflow series. */
export const OVERFLOW_VALUE = '__overflow__';

type Labels = Record<string, string | number>;

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
  /** Removes one series; true when it existed. */
  remove(labels: LabelValues): boolean;
  /** Series currently stored (including the overflow series once it exists). */
  size(): number;
}

/**
 * prom-client's key format (`name:value,` for every present label, label names sorted). Specialised
 * for the usual 1–3 labels so the hot path is one template literal.
 */
export function makeHasher(labelNames: readonly string[]): (labels: LabelValues) => string {
  const sorted = [...labelNames].sort();
  const p = sorted.map((n) => `${n}:`);
  const generic = (l: LabelValues) => {
    let h = '';
    for (let i = 0; i < sorted.length; i++) {
      const v = l[sorted[i] as string];
      if (v !== undefined) h += `${p[i]}${v},`;
    }
    return h;
  };
  const [k0, k1, k2] = sorted as [string, string, string];
  const [p0, p1, p2] = p as [string, string, string];
  switch (sorted.length) {
    case 0:
      return () => '';
    case 1:
      return (l) => {
        const a = l[k0];
        return a === undefined ? '' : `${p0}${a},`;
      };
    case 2:
      return (l) => {
        const a = l[k0];
        const b = l[k1];
        return a !== undefined && b !== undefined ? `${p0}${a},${p1}${b},` : generic(l);
      };
    case 3:
      return (l) => {
        const a = l[k0];
        const b = l[k1];
        const c = l[k2];
        return a !== undefined && b !== undefined && c !== undefined
          ? `${p0}${a},${p1}${b},${p2}${c},`
          : generic(l);
      };
    default:
      return generic;
  }
}

/**
 * A table over `owner.hashMap`. `create(labels)` builds a fresh prom-client entry. `cap` bounds
 * the number of distinct series; beyond it observations go to one series whose labels are all
 * `__overflow__`.
 */
export function createSeriesTable<E>(opts: {
  metric: string;
  owner: { hashMap: Record<string, E> };
  labelNames: readonly string[];
  cap: number;
  create: (labels: Labels) => E;
  hooks: CapHooks;
}): SeriesTable<E> {
  const { metric, owner, labelNames, cap, create, hooks } = opts;
  const hash = makeHasher(labelNames);
  const declared: Record<string, true> = Object.create(null);
  for (const n of labelNames) declared[n] = true;
  const overflowLabels: Labels = {};
  for (const n of labelNames) overflowLabels[n] = OVERFLOW_VALUE;
  const overflowKey = hash(overflowLabels);
  let count = 0;
  // prom-client's reset() swaps the map; recount whenever it is not the one we counted.
  let counted: Record<string, E> | undefined;
  let warned = false;
  let sinceRecount = 0;

  const checkKeys = (labels: LabelValues) => {
    for (const k in labels) {
      if (declared[k] !== true) {
        throw new MetricsError(
          'invalid_label',
          `label "${k}" is not declared by metric "${metric}" (declared: ${labelNames.join(', ') || 'none'})`,
        );
      }
    }
  };

  const insert = (key: string, labels: LabelValues): E => {
    const map = owner.hashMap;
    if (map !== counted) {
      counted = map;
      count = Object.keys(map).length;
    }
    for (const n of labelNames) {
      const v = labels[n];
      if (v !== undefined && typeof v !== 'string' && typeof v !== 'number') {
        throw new MetricsError(
          'invalid_label',
          `label "${n}" of metric "${metric}" must be a string or number, received ${typeName(v)}`,
        );
      }
    }
    // prom-client's remove() (called by other code) does not tell us; recount now and then while full.
    if (count >= cap && (sinceRecount++ & 1023) === 0) count = Object.keys(map).length;
    if (count >= cap && key !== overflowKey) {
      hooks.dropped(metric);
      if (!warned) {
        warned = true;
        hooks.warn(metric, cap);
      }
      let e = map[overflowKey];
      if (e === undefined) {
        e = create({ ...overflowLabels });
        map[overflowKey] = e;
        count++;
      }
      return e;
    }
    // Copy: the caller may reuse or mutate its labels object.
    const copy: Labels = {};
    for (const n of labelNames) {
      const v = labels[n];
      if (v !== undefined) copy[n] = v;
    }
    const e = create(copy);
    map[key] = e;
    count++;
    return e;
  };

  return {
    get(labels) {
      checkKeys(labels);
      const key = hash(labels);
      const e = owner.hashMap[key];
      return e !== undefined ? e : insert(key, labels);
    },
    remove(labels) {
      checkKeys(labels);
      const key = hash(labels);
      const map = owner.hashMap;
      if (map[key] === undefined) return false;
      delete map[key];
      if (map === counted) count--;
      return true;
    },
    size() {
      return Object.keys(owner.hashMap).length;
    },
  };
}
