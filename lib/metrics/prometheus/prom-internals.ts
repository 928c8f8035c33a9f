/**
 * The one place that reaches into prom-client's private storage (tested against 15.1): the
 * `hashMap` field of a metric, the key format of its entries and the entry shapes. Writing there
 * lets the hot path do one key computation and one property lookup (prom-client validates and
 * hashes more), while prom-client's own renderer, `remove()` and `reset()` keep working on our
 * metrics. `usePromInternals()` probes the installed prom-client once per process; when the shape
 * differs the adapter uses `public-store.ts` (prom-client's public API) instead and warns once.
 */
import type * as client from 'prom-client';
import type { LabelValues, Logger } from '../../core/contracts.js';
import { promClient } from './peer.js';
import {
  createSeriesTable,
  type HistogramStore,
  type Labels,
  type ScalarStore,
  type SeriesOwner,
  type StoreOptions,
} from './series.js';

/** prom-client's entry of a counter or gauge series. */
export interface ScalarEntry {
  value: number;
  labels: Labels;
}

/** An exemplar as prom-client stores it (OpenMetrics: labels ≤ 128 chars, value, seconds). */
export interface ExemplarEntry {
  labelSet: Readonly<Record<string, string>>;
  value: number;
  timestamp: number;
}

/** prom-client's entry of a histogram series; `bucketExemplars` appears with the first exemplar. */
export interface HistogramEntry {
  labels: Labels;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
  bucketExemplars?: Record<string, ExemplarEntry | null> | undefined;
}

/** Thrown by a key function for a label value that is neither a string nor a number. */
export class LabelTypeError extends Error {}

/** prom-client's bucket key of +Inf (for exemplars; +Inf has no bucket count of its own). */
const INF_KEY = '-1';

/**
 * The key the +Inf bucket's exemplar is kept under, for buckets whose keys are `keys`: prom-client's
 * `'-1'`, unless a bucket of bound -1 holds that key (negative buckets are allowed), then `'+Inf'`.
 * The two shared one exemplar: an observation above the last bound showed its exemplar on the
 * `le="-1"` bucket too (a value of 5 in the bucket of values up to -1), and one of that bucket
 * replaced the +Inf bucket's.
 */
export function infExemplarKey(keys: readonly string[]): string {
  return keys.includes(INF_KEY) ? '+Inf' : INF_KEY;
}

/**
 * A label value as it goes into a key: a `,` or `\` in it is escaped with `\`. prom-client's own
 * format writes values as they are, so `{a: 'x,b:y'}` and `{a: 'x', b: 'y'}` got the same key —
 * one series with the first one's labels counted both. Values without those characters (nearly
 * all) keep prom-client's key, so its own `remove()`/`inc()` still find our entries.
 */
function keyPart(v: string | number): string | number {
  if (typeof v === 'string') return v.includes(',') || v.includes('\\') ? v.replace(/[,\\]/g, '\\$&') : v;
  // Anything else would be keyed by its text: `true`, `{}` or `[1]` hit the series of `'true'`,
  // `'[object Object]'` or `'1'` and were counted into it (the type check runs only for a new
  // series), and a Symbol threw a TypeError. The series table turns this into invalid_label.
  if (typeof v !== 'number') throw new LabelTypeError();
  return v;
}

/**
 * prom-client's key format (`name:value,` for every present label, label names sorted), with `,`
 * and `\` in values escaped (`keyPart`) so that distinct label sets never share a key, and a label
 * whose value is `''` left out like an absent one: Prometheus reads `k=""` as no label `k`, so
 * `{k: ''}` and `{}` are one series there, and two entries for it put two samples of the same series
 * in the exposition, of which Prometheus kept one. Specialised for the usual 1–3 labels so the hot
 * path is one template literal.
 */
export function promKey(labelNames: readonly string[]): (labels: LabelValues) => string {
  const sorted = [...labelNames].sort();
  const p = sorted.map((n) => `${n}:`);
  const generic = (l: LabelValues) => {
    let h = '';
    for (let i = 0; i < sorted.length; i++) {
      const v = l[sorted[i] as string];
      if (v !== undefined && v !== '') h += `${p[i]}${keyPart(v)},`;
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
        return a === undefined || a === '' ? '' : `${p0}${keyPart(a)},`;
      };
    case 2:
      return (l) => {
        const a = l[k0];
        const b = l[k1];
        return a !== undefined && b !== undefined && a !== '' && b !== ''
          ? `${p0}${keyPart(a)},${p1}${keyPart(b)},`
          : generic(l);
      };
    case 3:
      return (l) => {
        const a = l[k0];
        const b = l[k1];
        const c = l[k2];
        return a !== undefined && b !== undefined && c !== undefined && a !== '' && b !== '' && c !== ''
          ? `${p0}${keyPart(a)},${p1}${keyPart(b)},${p2}${keyPart(c)},`
          : generic(l);
      };
    default:
      return generic;
  }
}

/** The metric itself, seen as the owner of its private series record. */
function ownerOf<E>(metric: client.Counter | client.Gauge | client.Histogram): SeriesOwner<E> {
  return metric as unknown as SeriesOwner<E>;
}

/** A store whose series the adapter's renderer reads itself. */
export interface InternalStore {
  /** The metric's current series record (prom-client swaps it on `reset()`). */
  entries(): Readonly<Record<string, ScalarEntry | HistogramEntry>>;
}

/** Counter or gauge series written straight into prom-client's entries. */
export function internalScalarStore(
  metric: client.Counter | client.Gauge,
  o: StoreOptions,
): ScalarStore & InternalStore {
  const owner = ownerOf<ScalarEntry>(metric);
  const table = createSeriesTable<ScalarEntry>({
    ...o,
    owner,
    hash: promKey(o.labelNames),
    create: (labels) => ({ value: 0, labels }),
  });
  return {
    add(labels, delta) {
      table.get(labels).value += delta;
    },
    set(labels, value) {
      table.get(labels).value = value;
    },
    setIfRoom(labels, value) {
      const e = table.getIfRoom(labels);
      if (e === undefined) return false;
      e.value = value;
      return true;
    },
    remove: (labels) => table.remove(labels),
    size: () => table.size(),
    entries: () => owner.hashMap,
  };
}

/** Histogram series written straight into prom-client's entries, exemplars included. */
export function internalHistogramStore(
  metric: client.Histogram,
  o: StoreOptions & { buckets: readonly number[]; wallClock: () => number },
): HistogramStore & InternalStore {
  const owner = ownerOf<HistogramEntry>(metric);
  const bounds = o.buckets;
  const n = bounds.length;
  // prom-client keys bucket counts by the bound's string form; precomputing it avoids a number→string conversion per observation.
  const keys = bounds.map(String);
  const infKey = infExemplarKey(keys);
  const zero: Record<string, number> = {};
  for (const k of keys) zero[k] = 0;
  const table = createSeriesTable<HistogramEntry>({
    ...o,
    owner,
    hash: promKey(o.labelNames),
    create: (labels) => ({ labels, bucketValues: { ...zero }, sum: 0, count: 0 }),
  });
  const { wallClock } = o;
  return {
    observe(labels, value, exemplar) {
      const e = table.get(labels);
      let i = 0;
      while (i < n && value > (bounds[i] as number)) i++;
      const key = i < n ? (keys[i] as string) : infKey;
      if (i < n) e.bucketValues[key]! += 1;
      e.sum += value;
      e.count += 1;
      if (exemplar !== undefined) {
        // prom-client keeps one exemplar per bucket, under the bound's key (+Inf: infExemplarKey).
        e.bucketExemplars ??= {};
        e.bucketExemplars[key] = { labelSet: { ...exemplar }, value, timestamp: wallClock() / 1000 };
      }
    },
    remove: (labels) => table.remove(labels),
    size: () => table.size(),
    entries: () => owner.hashMap,
  };
}

// ---------------------------------------------------------------- the startup probe

export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** The part of prom-client the probe builds metrics with (a stand-in in tests). */
export type PromLibrary = Pick<typeof client, 'Registry' | 'Counter' | 'Gauge' | 'Histogram'>;

class ShapeMismatch extends Error {}

function expect(ok: boolean, what: string): void {
  if (!ok) throw new ShapeMismatch(what);
}

function recordOf<E>(metric: object, what: string): Record<string, E> {
  const map = (metric as { hashMap?: unknown }).hashMap;
  expect(
    Object.hasOwn(metric, 'hashMap') && typeof map === 'object' && map !== null && !Array.isArray(map),
    `${what} has no own "hashMap" object`,
  );
  return map as Record<string, E>;
}

const sameKeys = (o: object, keys: string[]) => Object.keys(o).sort().join() === [...keys].sort().join();

/** Counter and gauge: key format, entry shape, and that prom-client adopts entries we insert. */
function probeScalars(lib: PromLibrary, registers: client.Registry[]): void {
  const counter = new lib.Counter({ name: 'probe_c', help: 'p', labelNames: ['b', 'a'], registers });
  counter.inc({ b: 'y', a: 1 }, 2);
  counter.inc({ b: 'z' });
  const map = recordOf<ScalarEntry>(counter, 'Counter');
  const key = promKey(['b', 'a']);
  expect(
    sameKeys(map, [key({ a: 1, b: 'y' }), key({ b: 'z' })]),
    `Counter keys changed: ${Object.keys(map)}`,
  );
  const entry = map[key({ a: 1, b: 'y' })] as ScalarEntry;
  expect(sameKeys(entry, ['value', 'labels']) && entry.value === 2, 'Counter entry is not { value, labels }');
  const ours: ScalarEntry = { value: 5, labels: { a: 'n', b: 'm' } };
  map[key(ours.labels)] = ours;
  counter.inc({ a: 'n', b: 'm' }, 1);
  expect(ours.value === 6, 'Counter does not count into an entry inserted under its key');
  counter.remove({ a: 'n', b: 'm' });
  expect(map[key(ours.labels)] === undefined, 'Counter.remove() does not delete by the same key');
  counter.reset();
  expect(recordOf(counter, 'Counter after reset()') !== map, 'Counter.reset() no longer replaces the record');
  const plain = new lib.Counter({ name: 'probe_u', help: 'p', registers });
  expect(sameKeys(recordOf(plain, 'unlabelled Counter'), ['']), 'unlabelled Counter has no "" entry');
  const gauge = new lib.Gauge({ name: 'probe_g', help: 'p', labelNames: ['k'], registers });
  gauge.set({ k: 'v' }, 3);
  const gmap = recordOf<ScalarEntry>(gauge, 'Gauge');
  const g = gmap[promKey(['k'])({ k: 'v' })];
  expect(
    g !== undefined && g.value === 3 && g.labels.k === 'v',
    'Gauge entry is not { value, labels } by key',
  );
  gauge.inc({ k: 'v' }, 2);
  expect(gmap[promKey(['k'])({ k: 'v' })]?.value === 5, 'Gauge.inc() does not add into the keyed entry');
}

/** Histogram: bucket keys, entry shape, adoption of our entries, and where exemplars go. */
function probeHistogram(lib: PromLibrary, registers: client.Registry[]): void {
  const h = new lib.Histogram({ name: 'probe_h', help: 'p', labelNames: ['k'], buckets: [1, 2], registers });
  h.observe({ k: 'v' }, 1.5);
  const map = recordOf<HistogramEntry>(h, 'Histogram');
  const key = promKey(['k']);
  const e = map[key({ k: 'v' })];
  expect(
    e !== undefined && sameKeys(e, ['labels', 'bucketValues', 'sum', 'count']),
    'Histogram entry is not { labels, bucketValues, sum, count }',
  );
  const b = e!.bucketValues;
  expect(sameKeys(b, ['1', '2']) && b['1'] === 0 && b['2'] === 1, 'Histogram bucketValues changed');
  expect(e!.sum === 1.5 && e!.count === 1, 'Histogram sum/count changed');
  const ours: HistogramEntry = { labels: { k: 'w' }, bucketValues: { 1: 0, 2: 0 }, sum: 0, count: 0 };
  map[key({ k: 'w' })] = ours;
  h.observe({ k: 'w' }, 0.5);
  expect(ours.count === 1 && ours.bucketValues['1'] === 1, 'Histogram does not adopt an inserted entry');
  const om = new lib.Registry<client.OpenMetricsContentType>();
  om.setContentType(lib.Registry.OPENMETRICS_CONTENT_TYPE);
  const x = new lib.Histogram({
    name: 'probe_x',
    help: 'p',
    buckets: [1],
    enableExemplars: true,
    registers: [om],
  });
  x.observe({ labels: {}, value: 3, exemplarLabels: { trace_id: 't' } });
  const ex = recordOf<HistogramEntry>(x, 'Histogram with exemplars')['']?.bucketExemplars?.[INF_KEY];
  expect(
    ex !== undefined && ex !== null && ex.labelSet.trace_id === 't' && typeof ex.timestamp === 'number',
    'Histogram exemplars are not { labelSet, value, timestamp } under the bound key ("-1" = +Inf)',
  );
}

/**
 * Checks, on throwaway metrics in a throwaway registry, every private shape the fast path relies
 * on. Never throws: a mismatch or an error is reported as `{ ok: false, reason }`.
 */
export function probePromInternals(lib: PromLibrary = promClient()): ProbeResult {
  try {
    const registers = [new lib.Registry()];
    probeScalars(lib, registers);
    probeHistogram(lib, registers);
    return { ok: true };
  } catch (err) {
    const reason = err instanceof ShapeMismatch ? err.message : `probe failed: ${String(err)}`;
    return { ok: false, reason };
  }
}

/** Code of the warning logged when the adapter falls back to prom-client's public API. */
export const FALLBACK_WARNING = 'HYPERION_PROM_CLIENT_FALLBACK';

let probed: ProbeResult | undefined;
let warned = false;

/**
 * Whether to write into prom-client's storage. The installed prom-client is probed once per
 * process and the fallback is logged once per process; a `forced` result (tests) skips the probe
 * and is logged every time.
 */
export function usePromInternals(logger: Pick<Logger, 'warn'>, forced?: ProbeResult): boolean {
  if (forced === undefined) probed ??= probePromInternals();
  const result = forced ?? (probed as ProbeResult);
  if (result.ok) return true;
  if (forced === undefined) {
    if (warned) return false;
    warned = true;
  }
  logger.warn(
    `prom-client's internal storage is not what this adapter was built for (${result.reason}); using prom-client's public API instead: values stay right, recording is slower and histograms carry no exemplars`,
    { code: FALLBACK_WARNING, reason: result.reason },
  );
  return false;
}
