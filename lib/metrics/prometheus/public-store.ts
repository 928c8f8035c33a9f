/**
 * The fallback when `prom-internals.ts` finds prom-client's storage changed: every write goes through
 * prom-client's public methods (`inc`, `set`, `observe`, `remove`), so values stay right whatever its
 * internals look like, and the renderer reads these metrics through their public `get()`. The cap
 * keeps its own record of the label combinations it let in. Compared with the fast path: slower,
 * histograms carry no exemplars (prom-client only stores them in an OpenMetrics-only registry), and
 * series that other code removes or resets through prom-client still count against the cap.
 */
import type * as client from 'prom-client';
import type { LabelValues } from '../../core/contracts.js';
import { promKey } from './prom-internals.js';
import {
  createSeriesTable,
  type HistogramStore,
  type Labels,
  type ScalarStore,
  type SeriesTable,
  type StoreOptions,
} from './series.js';

/** A table whose entries are the label objects handed to prom-client (one per series). */
function labelTable(o: StoreOptions): SeriesTable<Labels> {
  // prom-client creates the series of an unlabelled metric up front; count it from the start too.
  const hashMap: Record<string, Labels> = o.labelNames.length === 0 ? { '': {} } : {};
  // Any injective key works for this record of our own; prom-client's format is as good as any.
  return createSeriesTable<Labels>({
    ...o,
    owner: { hashMap },
    hash: promKey(o.labelNames),
    create: (l) => l,
  });
}

function removeBoth(table: SeriesTable<Labels>, metric: { remove(labels: Labels): void }) {
  return (labels: LabelValues) => {
    if (!table.remove(labels)) return false;
    metric.remove({ ...labels });
    return true;
  };
}

export function publicCounterStore(metric: client.Counter, o: StoreOptions): ScalarStore {
  const table = labelTable(o);
  return {
    add: (labels, delta) => metric.inc(table.get(labels), delta),
    set(labels, value) {
      // A counter has no public setter: drop the series and count it up again from zero.
      const l = table.get(labels);
      metric.remove(l);
      metric.inc(l, value);
    },
    setIfRoom(labels, value) {
      const l = table.getIfRoom(labels);
      if (l === undefined) return false;
      metric.remove(l);
      metric.inc(l, value);
      return true;
    },
    remove: removeBoth(table, metric),
    size: () => table.size(),
  };
}

export function publicGaugeStore(metric: client.Gauge, o: StoreOptions): ScalarStore {
  const table = labelTable(o);
  return {
    add: (labels, delta) => metric.inc(table.get(labels), delta),
    set: (labels, value) => metric.set(table.get(labels), value),
    setIfRoom(labels, value) {
      const l = table.getIfRoom(labels);
      if (l === undefined) return false;
      metric.set(l, value);
      return true;
    },
    remove: removeBoth(table, metric),
    size: () => table.size(),
  };
}

export function publicHistogramStore(metric: client.Histogram, o: StoreOptions): HistogramStore {
  const table = labelTable(o);
  return {
    observe: (labels, value) => metric.observe(table.get(labels), value),
    remove: removeBoth(table, metric),
    size: () => table.size(),
  };
}
